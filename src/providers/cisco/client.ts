/**
 * The CCP chat REST API (PROVIDERS.md "Cisco"). No chat id appears in its URLs: each chat is
 * the session cookie its create call set (JSESSIONID), which the gateway keeps with the
 * session so that any instance can go on with the chat. Bodies are XML (./xml.ts). When the
 * tenant's config has an API key, it is sent as X-API-Key (CCP behind an API gateway).
 */
import { Cookies, HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import type { CiscoConfig } from "../../domain/tenant.js"
import { AppConfig } from "../../services/AppConfig.js"
import { apiErrorType, type CcpEvent, type CiscoXmlError, messageXml, parseChatEvents, type SocialContact, socialContactXml, typingXml } from "./xml.js"

export class CiscoApiError extends Schema.TaggedError<CiscoApiError>()("CiscoApiError", {
  message: Schema.String,
  status: Schema.optional(Schema.Int),
  /** CCP's `errorType` (`notFound`: the chat's cookie is unknown or expired; `invalidInput`). */
  errorType: Schema.optional(Schema.String)
}) {}

/** One chat: its id (from the Location header, for logs and event ids) and its cookie (what identifies it to CCP). */
export interface CiscoChat {
  readonly chatId: string
  readonly cookie: string
}

export interface CiscoApiService {
  readonly create: (config: CiscoConfig, contact: Omit<SocialContact, "feedRefUrl">) => Effect.Effect<CiscoChat, CiscoApiError>
  /** The chat's events after `eventId` (others' only: `all=false`). */
  readonly poll: (config: CiscoConfig, cookie: string, eventId: number) => Effect.Effect<ReadonlyArray<CcpEvent>, CiscoApiError>
  readonly send: (config: CiscoConfig, cookie: string, text: string) => Effect.Effect<void, CiscoApiError>
  readonly typing: (config: CiscoConfig, cookie: string, from: string, status: "composing" | "paused") => Effect.Effect<void, CiscoApiError>
  /** The customer leaves the chat (the agent sees it); polling still answers. */
  readonly leave: (config: CiscoConfig, cookie: string) => Effect.Effect<void, CiscoApiError>
  /** Stops the chat session: the cookie is dead afterwards. */
  readonly close: (config: CiscoConfig, cookie: string) => Effect.Effect<void, CiscoApiError>
}

export class CiscoApi extends Context.Tag("hbf-lcg/CiscoApi")<CiscoApi, CiscoApiService>() {}

/** Whether the error says the chat no longer exists at CCP. */
export const isChatGone = (error: CiscoApiError) => error.status === 404

const chatPath = "/ccp/rest/chat"
const feedRefUrl = (config: CiscoConfig) => `${config.baseUrl}/ccp-webapp/ccp/feed/${encodeURIComponent(config.feedId)}`

export const CiscoApiLive = Layer.effect(
  CiscoApi,
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const { httpTimeout } = yield* AppConfig

    const exchange = (config: CiscoConfig, request: HttpClientRequest.HttpClientRequest, cookie: string | undefined) => {
      const what = `${request.method} ${request.url}`
      const withAuth = request.pipe(
        HttpClientRequest.prependUrl(config.baseUrl),
        HttpClientRequest.setHeader("accept", "application/xml"),
        cookie !== undefined ? HttpClientRequest.setHeader("cookie", `JSESSIONID=${cookie}`) : (r) => r,
        config.apiKey !== undefined ? HttpClientRequest.setHeader("x-api-key", Redacted.value(config.apiKey)) : (r) => r
      )
      return http.execute(withAuth).pipe(
        Effect.flatMap((response) => Effect.map(response.text, (body) => ({ response, body }))),
        Effect.scoped,
        Effect.timeout(httpTimeout),
        Effect.mapError(
          (e) => new CiscoApiError({ message: `CCP ${what} ${e._tag === "TimeoutException" ? "timed out" : `is unreachable: ${e.message}`}` })
        ),
        Effect.flatMap(({ body, response }) => {
          if (response.status >= 200 && response.status < 300) return Effect.succeed({ body, response })
          const errorType = apiErrorType(body)
          return Effect.fail(
            new CiscoApiError({
              message: `CCP ${what} answered ${response.status}${errorType !== undefined ? ` ${errorType}` : ""}`,
              status: response.status,
              ...(errorType !== undefined ? { errorType } : {})
            })
          )
        })
      )
    }

    const xmlBody = (xml: string) => HttpClientRequest.bodyText(xml, "application/xml")
    const fromXml = (e: CiscoXmlError) => new CiscoApiError({ message: e.message })

    const chatOf = (response: HttpClientResponse.HttpClientResponse) => {
      const cookie = Cookies.getValue(response.cookies, "JSESSIONID")
      const location = response.headers["location"]
      const chatId = location?.split("/").at(-1)
      return Option.isSome(cookie) && chatId !== undefined && chatId !== ""
        ? Effect.succeed({ chatId, cookie: cookie.value })
        : Effect.fail(new CiscoApiError({ message: "CCP created the chat without a Location or a JSESSIONID cookie" }))
    }

    return CiscoApi.of({
      create: (config, contact) =>
        exchange(config, HttpClientRequest.post(chatPath).pipe(xmlBody(socialContactXml({ ...contact, feedRefUrl: feedRefUrl(config) }))), undefined).pipe(
          Effect.flatMap(({ response }) => chatOf(response))
        ),
      poll: (config, cookie, eventId) =>
        exchange(
          config,
          HttpClientRequest.get(chatPath).pipe(HttpClientRequest.setUrlParams({ eventid: String(eventId), all: "false" })),
          cookie
        ).pipe(Effect.flatMap(({ body }) => Effect.mapError(parseChatEvents(body), fromXml))),
      send: (config, cookie, text) => Effect.asVoid(exchange(config, HttpClientRequest.put(chatPath).pipe(xmlBody(messageXml(text))), cookie)),
      typing: (config, cookie, from, status) =>
        Effect.asVoid(exchange(config, HttpClientRequest.put(`${chatPath}/event`).pipe(xmlBody(typingXml(from, status))), cookie)),
      leave: (config, cookie) => Effect.asVoid(exchange(config, HttpClientRequest.put(`${chatPath}/leaveChat`), cookie)),
      close: (config, cookie) => Effect.asVoid(exchange(config, HttpClientRequest.del(chatPath), cookie))
    })
  })
)
