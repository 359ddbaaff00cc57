/**
 * The Sunshine Conversations v2 API of one app (PROVIDERS.md "Zendesk Sunshine Conversations
 * v2"), with Basic auth (key id : secret).
 * - Each app has a bounded number of calls in flight, so one tenant's burst queues behind
 *   itself and never starves another tenant's calls.
 * - A 429 holds that app back (its Retry-After, or failing that an exponential, jittered
 *   wait: Sunshine often gives none), then the call is tried again.
 * - Transport failures and 5xx are retried only where a repeat is harmless (reads and
 *   switchboard actions): a repeated message POST could reach the agent twice.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { Context, Duration, Effect, Either, Layer, Option, Random, Redacted, Schema } from "effect"
import type { ZendeskConfig } from "../../domain/tenant.js"
import { retryAfterOf } from "../../infra/outbound.js"
import { AppConfig } from "../../services/AppConfig.js"
import { callName, credentialKey, exchange, makeCallGates } from "../providerCalls.js"
import {
  type Conversation,
  ConversationList,
  ConversationResponse,
  ErrorBody,
  Message,
  MessageList,
  MessagePostResponse,
  UserResponse
} from "./schemas.js"

export class ZendeskApiError extends Schema.TaggedError<ZendeskApiError>()("ZendeskApiError", {
  message: Schema.String,
  status: Schema.optional(Schema.Int),
  code: Schema.optional(Schema.String)
}) {}

export type Json = Readonly<Record<string, unknown>>

/** One tenant's Sunshine app: what every call is made as. */
export interface ZendeskApp {
  readonly tenantId: string
  readonly config: ZendeskConfig
}

/**
 * Calls are gated per credential (tenant, API host, app, key and secret): a tenant that names
 * another's app never holds the other's calls back with its own bursts or 429s.
 */
const gateKeyOf = ({ config, tenantId }: ZendeskApp) =>
  credentialKey(tenantId, [config.apiBaseUrl, config.appId, config.keyId], [config.keySecret])

export interface ZendeskApiService {
  /** The Sunshine user with this external id, created when there is none yet. */
  readonly user: (app: ZendeskApp, externalId: string, profile: Json) => Effect.Effect<string, ZendeskApiError>
  /** The user's personal conversation: the existing one (an app has one per user), else a new one. */
  readonly personalConversation: (app: ZendeskApp, userId: string, metadata: Json) => Effect.Effect<Conversation, ZendeskApiError>
  readonly conversation: (app: ZendeskApp, conversationId: string) => Effect.Effect<Conversation, ZendeskApiError>
  readonly postMessage: (app: ZendeskApp, conversationId: string, message: Json) => Effect.Effect<Message, ZendeskApiError>
  /** The newest page of messages, or the page right before message `before` (oldest first within a page). */
  readonly messagesBefore: (app: ZendeskApp, conversationId: string, before?: string) => Effect.Effect<MessagePage, ZendeskApiError>
  readonly activity: (app: ZendeskApp, conversationId: string, activity: Json) => Effect.Effect<void, ZendeskApiError>
  /** passControl / releaseControl (`body` names the integration and carries metadata). */
  readonly switchboard: (
    app: ZendeskApp,
    conversationId: string,
    action: "passControl" | "releaseControl",
    body: Json
  ) => Effect.Effect<void, ZendeskApiError>
}

/** A page of messages, oldest first; `hasMore`: there are older ones. Messages the gateway cannot read are left out and counted. */
export interface MessagePage {
  readonly messages: ReadonlyArray<Message>
  readonly hasMore: boolean
  readonly unreadable: number
}

const decodeMessage = Schema.decodeUnknownOption(Message)

export class ZendeskApi extends Context.Tag("hbf-lcg/ZendeskApi")<ZendeskApi, ZendeskApiService>() {}

export const zendeskApiLimits = {
  /** Calls of one app in flight at once. */
  maxInFlight: 8,
  /** 429s waited out before a call fails. */
  rateLimitRetries: 4,
  /** The first wait after a 429 without Retry-After; it doubles (with jitter) each time. */
  rateLimitBackoff: Duration.millis(500),
  /** A 429 asking to wait longer than this fails the call at once instead. */
  maxRetryAfter: Duration.seconds(60),
  /** Retries of a repeatable call after a transport failure or a 5xx. */
  transientRetries: 2
}

const decodeError = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

/**
 * A refusal, named by the call, the status and Sunshine's code. Sunshine's own words (its
 * error title) are left out, of answers and logs alike: they may repeat what the call carried.
 */
const apiError = (what: string, status: number, body: string) => {
  const first = Option.flatMap(decodeError(body), (b) => Option.fromNullable(b.errors[0]))
  const code = Option.flatMap(first, (e) => Option.fromNullable(e.code))
  return Effect.zipRight(
    Effect.logWarning("Sunshine refused a call", { call: what, status, ...(Option.isSome(code) ? { code: code.value } : {}) }),
    Effect.fail(
      new ZendeskApiError({
        message: `Sunshine ${what} answered ${status}${Option.match(code, { onNone: () => "", onSome: (c) => ` ${c}` })}`,
        status,
        ...(Option.isSome(code) ? { code: code.value } : {})
      })
    )
  )
}

export const isStatus = (error: ZendeskApiError, status: number) => error.status === status

export const ZendeskApiLive = Layer.effect(
  ZendeskApi,
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const { upstream } = yield* AppConfig
    const gateOf = makeCallGates(zendeskApiLimits.maxInFlight)
    const send = (request: HttpClientRequest.HttpClientRequest, what: string) =>
      exchange(http, "zendesk", upstream.maxBodyBytes, (reason) => new ZendeskApiError({ message: `Sunshine ${what} ${reason}` }))(request)

    const call = <A, I>(
      app: ZendeskApp,
      request: HttpClientRequest.HttpClientRequest,
      answer: Schema.Schema<A, I>,
      options: { readonly repeatable: boolean }
    ): Effect.Effect<A, ZendeskApiError> => {
      const { config } = app
      const gate = gateOf(gateKeyOf(app))
      const what = callName(request.method, request.url)
      const prepared = request.pipe(
        HttpClientRequest.prependUrl(`${config.apiBaseUrl}/v2/apps/${encodeURIComponent(config.appId)}`),
        HttpClientRequest.basicAuth(config.keyId, Redacted.value(config.keySecret)),
        HttpClientRequest.acceptJson
      )
      const attempt = (limited: number, transient: number): Effect.Effect<A, ZendeskApiError> =>
        Effect.gen(function* () {
          yield* gate.waitTurn
          const reply = yield* Effect.either(send(prepared, what))
          const retryTransient = options.repeatable && transient < zendeskApiLimits.transientRetries
          const transientBackoff = Effect.sleep(Duration.millis(200 * 2 ** transient))
          if (Either.isLeft(reply)) {
            return yield* retryTransient ? Effect.zipRight(transientBackoff, attempt(limited, transient + 1)) : Effect.fail(reply.left)
          }
          const { body, response } = reply.right
          if (response.status === 429 && limited < zendeskApiLimits.rateLimitRetries) {
            const backoff = Duration.times(zendeskApiLimits.rateLimitBackoff, 2 ** limited * (yield* Random.nextRange(1, 1.5)))
            const wait = Option.getOrElse(retryAfterOf(response.headers), () => backoff)
            if (Duration.lessThanOrEqualTo(wait, zendeskApiLimits.maxRetryAfter)) {
              gate.holdBack(wait)
              yield* Effect.logWarning("Sunshine rate limit: holding this app back", { tenantId: app.tenantId, waitMs: Duration.toMillis(wait) })
              return yield* attempt(limited + 1, transient)
            }
          }
          if (response.status >= 500 && retryTransient) return yield* Effect.zipRight(transientBackoff, attempt(limited, transient + 1))
          if (response.status < 200 || response.status >= 300) return yield* apiError(what, response.status, body)
          const decoded = body.length === 0 ? Schema.decodeUnknown(answer)({}) : Schema.decodeUnknown(Schema.parseJson(answer))(body)
          return yield* Effect.mapError(decoded, () => new ZendeskApiError({ message: `Sunshine ${what} answered an unexpected body`, status: response.status }))
        })
      return gate.withSlot(attempt(0, 0))
    }

    const conversationPath = (conversationId: string) => `/conversations/${encodeURIComponent(conversationId)}`
    const listConversations = (app: ZendeskApp, userId: string) =>
      call(app, HttpClientRequest.get("/conversations").pipe(HttpClientRequest.setUrlParam("filter[userId]", userId)), ConversationList, {
        repeatable: true
      }).pipe(Effect.map((list) => Option.fromNullable(list.conversations.find((c) => c.type === undefined || c.type === "personal"))))

    const service: ZendeskApiService = {
      user: (app, externalId, profile) =>
        call(app, HttpClientRequest.post("/users").pipe(HttpClientRequest.bodyUnsafeJson({ externalId, profile })), UserResponse, {
          repeatable: false
        }).pipe(
          // 409: the user exists (an earlier livechat, or a concurrent request).
          Effect.catchIf(
            (e) => isStatus(e, 409),
            () => call(app, HttpClientRequest.get(`/users/${encodeURIComponent(externalId)}`), UserResponse, { repeatable: true })
          ),
          Effect.map(({ user }) => user.id)
        ),
      personalConversation: (app, userId, metadata) =>
        Effect.flatMap(listConversations(app, userId), (existing) =>
          Option.match(existing, {
            onSome: Effect.succeed,
            onNone: () =>
              call(
                app,
                HttpClientRequest.post("/conversations").pipe(
                  HttpClientRequest.bodyUnsafeJson({ type: "personal", participants: [{ userId }], metadata })
                ),
                ConversationResponse,
                { repeatable: false }
              ).pipe(
                Effect.map(({ conversation }) => conversation),
                // 400: created meanwhile by a concurrent request (one personal conversation per user).
                Effect.catchIf(
                  (e) => isStatus(e, 400),
                  (e) => Effect.flatMap(listConversations(app, userId), Option.match({ onNone: () => Effect.fail(e), onSome: Effect.succeed }))
                )
              )
          })
        ),
      conversation: (app, conversationId) =>
        Effect.map(call(app, HttpClientRequest.get(conversationPath(conversationId)), ConversationResponse, { repeatable: true }), (r) => r.conversation),
      postMessage: (app, conversationId, message) =>
        call(
          app,
          HttpClientRequest.post(`${conversationPath(conversationId)}/messages`).pipe(HttpClientRequest.bodyUnsafeJson(message)),
          MessagePostResponse,
          { repeatable: false }
        ).pipe(
          Effect.flatMap(({ messages }) =>
            messages.length > 0 ? Effect.succeed(messages[0]!) : Effect.fail(new ZendeskApiError({ message: "Sunshine answered a message post without the message" }))
          )
        ),
      messagesBefore: (app, conversationId, before) =>
        call(
          app,
          HttpClientRequest.get(`${conversationPath(conversationId)}/messages`).pipe(
            before === undefined ? (request) => request : HttpClientRequest.setUrlParam("page[before]", before)
          ),
          MessageList,
          { repeatable: true }
        ).pipe(
          Effect.map((list): MessagePage => {
            const messages = list.messages.flatMap((raw) => Option.toArray(decodeMessage(raw)))
            return { messages, hasMore: list.meta.hasMore, unreadable: list.messages.length - messages.length }
          })
        ),
      activity: (app, conversationId, activity) =>
        Effect.asVoid(
          call(
            app,
            HttpClientRequest.post(`${conversationPath(conversationId)}/activity`).pipe(HttpClientRequest.bodyUnsafeJson(activity)),
            Schema.Unknown,
            { repeatable: true }
          )
        ),
      switchboard: (app, conversationId, action, body) =>
        Effect.asVoid(
          call(
            app,
            HttpClientRequest.post(`${conversationPath(conversationId)}/${action}`).pipe(HttpClientRequest.bodyUnsafeJson(body)),
            Schema.Unknown,
            { repeatable: true }
          )
        )
    }
    return service
  })
)
