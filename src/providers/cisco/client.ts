/**
 * The CCP chat REST API (docs/PROVIDERS.md#cisco-ccp-chat). No chat id appears in its URLs:
 * each chat is the session cookie its create call set (JSESSIONID), which the gateway keeps
 * with the session so that any instance can go on with the chat. Bodies are XML (./xml.ts).
 * When the tenant's config has an API key, it is sent as X-API-Key (CCP behind an API gateway).
 */
import { Cookies } from "@effect/platform"
import { Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import type { IncomingHttpHeaders } from "node:http"
import { Agent } from "undici"
import type { LivechatConfig } from "../../domain/tenant.js"
import { recordProviderCall } from "../../infra/metrics.js"
import { AppConfig } from "../../services/AppConfig.js"
import { ProviderCallHealth } from "../../services/ProviderCallHealth.js"
import { ProviderEgressGuard } from "../../services/ProviderEgressGuard.js"
import { recordCallInScope } from "../../services/Timeline.js"
import { credentialKey, noAnswer, ProviderApiError, refusal } from "../providerCalls.js"
import {
  apiErrorType,
  type CcpEvent,
  type CiscoXmlError,
  messageXml,
  parseChatEvents,
  type SocialContact,
  socialContactXml,
  typingXml
} from "./xml.js"

/** One chat: its id (from the Location header, for logs and event ids) and its cookie (what identifies it to CCP). */
export interface CiscoChat {
  readonly chatId: string
  readonly cookie: string
}

/** A tenant's livechat config of CCP: its calls are made as the tenant (the credential key names it). */
export type CcpConfig = Extract<LivechatConfig, { readonly provider: "cisco-livechat" }>

/** Each config's credential key, digested once per config object (the tenant cache keeps it): polls are the hot path. */
const ccpKeys = new WeakMap<CcpConfig, string>()

/** The key of a tenant's CCP credential: the tenant, the CCP host and the API key (credentialKey). */
export const ccpCredentials = (config: CcpConfig): string => {
  const kept = ccpKeys.get(config)
  if (kept !== undefined) return kept
  const { apiKey, baseUrl } = config.cisco
  const key = credentialKey(config.tenantId, [baseUrl], apiKey === undefined ? [] : [apiKey])
  ccpKeys.set(config, key)
  return key
}

export interface CiscoApiService {
  readonly create: (
    config: CcpConfig,
    contact: Omit<SocialContact, "feedRefUrl">
  ) => Effect.Effect<CiscoChat, ProviderApiError>
  /** The chat's events after `eventId` (others' only: `all=false`). */
  readonly poll: (
    config: CcpConfig,
    cookie: string,
    eventId: number
  ) => Effect.Effect<ReadonlyArray<CcpEvent>, ProviderApiError>
  readonly send: (config: CcpConfig, cookie: string, text: string) => Effect.Effect<void, ProviderApiError>
  readonly typing: (
    config: CcpConfig,
    cookie: string,
    from: string,
    status: "composing" | "paused"
  ) => Effect.Effect<void, ProviderApiError>
  /** The customer leaves the chat (the agent sees it); polling still answers. */
  readonly leave: (config: CcpConfig, cookie: string) => Effect.Effect<void, ProviderApiError>
  /** Stops the chat session: the cookie is dead afterwards. */
  readonly close: (config: CcpConfig, cookie: string) => Effect.Effect<void, ProviderApiError>
  /**
   * Whether CCP answers at all: a poll without a chat cookie, which CCP answers 404 `notFound`
   * (any answer but a 5xx is CCP there; the outcome is recorded like every call's).
   */
  readonly probe: (config: CcpConfig) => Effect.Effect<void, ProviderApiError>
}

export class CiscoApi extends Context.Tag("hbf-lcg/CiscoApi")<CiscoApi, CiscoApiService>() {}

/** Whether CCP says the chat no longer exists: a 404 with `notFound` (its errorType), not any 404 (a proxy's page must not end chats). */
export const isChatGone = (error: ProviderApiError) => error.status === 404 && error.code === "notFound"

const chatPath = "/ccp/rest/chat"
const feedRefUrl = ({ cisco }: CcpConfig) => `${cisco.baseUrl}/ccp-webapp/ccp/feed/${encodeURIComponent(cisco.feedId)}`

/**
 * Connections per CCP host: enough for thousands of chats polled every few seconds, few enough
 * for CCP (perf: docs/ARCHITECTURE.md#perf-ccp-undici-pool).
 */
const CONNECTIONS_PER_HOST = 32

/**
 * The client on undici directly, with a keep-alive pool per CCP host: polls are the gateway's
 * most frequent outbound call (10,000 chats every 5 s is 2,000 a second), and the generic
 * HttpClient's per-request machinery costs several times what the call itself does
 * (perf: docs/ARCHITECTURE.md#perf-ccp-undici-pool). Its connections are confined like every
 * provider's (ProviderEgressGuard); its failures are the providers' ProviderApiError, told as
 * theirs are (noAnswer, refusal). No call is retried here (a failed poll is polled again). In
 * a session's timeline scope each call is recorded there (`provider.call`, attempt 1).
 */
export const CiscoApiLive = Layer.scoped(
  CiscoApi,
  Effect.gen(function*() {
    const { httpTimeout, upstream } = yield* AppConfig
    const guard = yield* ProviderEgressGuard
    const health = yield* ProviderCallHealth
    const timeoutMs = Duration.toMillis(httpTimeout)
    const agent = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Agent({
            connections: CONNECTIONS_PER_HOST,
            keepAliveTimeout: 30_000,
            connect: guard.connector({ timeout: timeoutMs }),
            // An answer is cut at the limit as it arrives, and its read fails (noAnswer says so).
            maxResponseSize: upstream.maxBodyBytes
          })
      ),
      (agent) => Effect.promise(() => agent.close())
    )

    const exchange = (
      config: CcpConfig,
      method: "GET" | "POST" | "PUT" | "DELETE",
      path: string,
      options: { readonly cookie?: string; readonly xml?: string } = {}
    ) => {
      const what = `${method} ${path.split("?")[0]}`
      const headers: Record<string, string> = { accept: "application/xml" }
      if (options.cookie !== undefined) headers["cookie"] = `JSESSIONID=${options.cookie}`
      if (options.xml !== undefined) headers["content-type"] = "application/xml"
      const { apiKey, baseUrl } = config.cisco
      if (apiKey !== undefined) headers["x-api-key"] = Redacted.value(apiKey)
      const credentials = ccpCredentials(config)
      const started = performance.now()
      return Effect.tryPromise({
        // No abort signal: an interrupted poll is left to finish (within undici's timeouts) rather than paying for an AbortController per call.
        // perf: docs/ARCHITECTURE.md#perf-undici-timeouts
        try: async () => {
          const response = await agent.request({
            origin: baseUrl,
            path,
            method,
            headers,
            ...(options.xml !== undefined ? { body: options.xml } : {}),
            // undici's own timeouts bound a CCP that hangs; no timer per request beside them.
            // perf: docs/ARCHITECTURE.md#perf-undici-timeouts
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs
          })
          return {
            status: response.statusCode,
            headers: response.headers,
            body: await response.body.text(),
            elapsed: performance.now() - started
          }
        },
        catch: (cause) => cause
      }).pipe(
        Effect.matchEffect({
          // Recorded in the match's own step: no fiber op of its own (perf: docs/ARCHITECTURE.md#perf-fiber-ops).
          onFailure: (cause) => {
            health.record(credentials, undefined)
            const elapsed = performance.now() - started
            return Effect.zipRight(
              Effect.zipRight(
                recordProviderCall("cisco-livechat", undefined, Duration.millis(elapsed)),
                recordCallInScope(what, 1, elapsed, undefined)
              ),
              Effect.flatMap(
                noAnswer("cisco-livechat", what, method, `${baseUrl}${path}`, cause, upstream.maxBodyBytes),
                Effect.fail
              )
            )
          },
          onSuccess: (response) => {
            const { elapsed, status } = response
            health.record(credentials, status)
            return Effect.as(
              Effect.zipRight(
                recordProviderCall("cisco-livechat", status, Duration.millis(elapsed)),
                recordCallInScope(what, 1, elapsed, status)
              ),
              response
            )
          }
        }),
        Effect.flatMap((response) => {
          if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
          return Effect.fail(
            refusal("cisco-livechat", what, response.status, Option.fromNullable(apiErrorType(response.body)))
          )
        })
      )
    }

    const fromXml = (e: CiscoXmlError) => new ProviderApiError({ provider: "cisco-livechat", message: e.message })

    const chatOf = (headers: IncomingHttpHeaders) => {
      const cookie = Cookies.getValue(Cookies.fromSetCookie(headers["set-cookie"] ?? []), "JSESSIONID")
      const chatId = headers["location"]?.split("/").at(-1)
      return Option.isSome(cookie) && chatId !== undefined && chatId !== ""
        ? Effect.succeed({ chatId, cookie: cookie.value })
        : Effect.fail(
          new ProviderApiError({
            provider: "cisco-livechat",
            message: "CCP created the chat without a Location or a JSESSIONID cookie"
          })
        )
    }

    return CiscoApi.of({
      create: (config, contact) =>
        exchange(config, "POST", chatPath, { xml: socialContactXml({ ...contact, feedRefUrl: feedRefUrl(config) }) })
          .pipe(
            Effect.flatMap((response) => chatOf(response.headers))
          ),
      poll: (config, cookie, eventId) =>
        exchange(config, "GET", `${chatPath}?eventid=${eventId}&all=false`, { cookie }).pipe(
          Effect.flatMap(({ body }) => Effect.mapError(parseChatEvents(body), fromXml)),
          Effect.tap(({ unreadable }) =>
            // Never the element itself: agent messages are the customer's personal data.
            unreadable.length > 0
              ? Effect.logWarning("CCP sent events the gateway cannot read; skipped", { types: unreadable })
              : Effect.void
          ),
          Effect.map(({ events }) => events)
        ),
      send: (config, cookie, text) =>
        Effect.asVoid(exchange(config, "PUT", chatPath, { cookie, xml: messageXml(text) })),
      typing: (config, cookie, from, status) =>
        Effect.asVoid(exchange(config, "PUT", `${chatPath}/event`, { cookie, xml: typingXml(from, status) })),
      leave: (config, cookie) => Effect.asVoid(exchange(config, "PUT", `${chatPath}/leaveChat`, { cookie })),
      close: (config, cookie) => Effect.asVoid(exchange(config, "DELETE", chatPath, { cookie })),
      probe: (config) =>
        exchange(config, "GET", `${chatPath}?eventid=0&all=false`).pipe(
          Effect.asVoid,
          Effect.catchIf(isChatGone, () => Effect.void)
        )
    })
  })
)
