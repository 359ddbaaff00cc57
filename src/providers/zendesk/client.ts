/**
 * The Sunshine Conversations v2 API of one app
 * (docs/PROVIDERS.md#zendesk-sunshine-conversations-v2), with Basic auth (key id : secret),
 * through the shared provider call (../providerHttp.ts):
 * - Each app (its credential) has a bounded number of calls in flight, so one tenant's burst
 *   queues behind itself and never starves another tenant's calls.
 * - A 429 holds that app back (its Retry-After, or failing that an exponential, jittered
 *   wait: Sunshine often gives none), then the call is tried again.
 * - Transport failures and 5xx are retried only where a repeat is harmless (reads and
 *   switchboard actions): a repeated message POST could reach the agent twice.
 */
import { HttpClientRequest } from "@effect/platform"
import { Context, Duration, Effect, Layer, Option, Random, Schema } from "effect"
import type { ZendeskConfig } from "../../domain/tenant.js"
import { credentialKey, credentialLabel, ProviderApiError } from "../providerCalls.js"
import { makeProviderHttp, type ProviderHttpPolicy } from "../providerHttp.js"
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
export const credentialKeyOf = ({ config, tenantId }: ZendeskApp) =>
  credentialKey(tenantId, [config.apiBaseUrl, config.appId, config.keyId], [config.keySecret])

export interface ZendeskApiService {
  /** The Sunshine user with this external id, created when there is none yet. */
  readonly user: (app: ZendeskApp, externalId: string, profile: Json) => Effect.Effect<string, ProviderApiError>
  /** The user's personal conversation: the existing one (an app has one per user), else a new one. */
  readonly personalConversation: (
    app: ZendeskApp,
    userId: string,
    metadata: Json
  ) => Effect.Effect<Conversation, ProviderApiError>
  readonly conversation: (app: ZendeskApp, conversationId: string) => Effect.Effect<Conversation, ProviderApiError>
  readonly postMessage: (
    app: ZendeskApp,
    conversationId: string,
    message: Json
  ) => Effect.Effect<Message, ProviderApiError>
  /** The newest page of messages, or the page right before message `before` (oldest first within a page). */
  readonly messagesBefore: (
    app: ZendeskApp,
    conversationId: string,
    before?: string
  ) => Effect.Effect<MessagePage, ProviderApiError>
  /** passControl / releaseControl (`body` names the integration and carries metadata). */
  readonly switchboard: (
    app: ZendeskApp,
    conversationId: string,
    action: "passControl" | "releaseControl",
    body: Json
  ) => Effect.Effect<void, ProviderApiError>
  /** An activity in the conversation (`conversation:read`: the user has read it). */
  readonly activity: (
    app: ZendeskApp,
    conversationId: string,
    activity: { readonly author: Json; readonly type: "conversation:read" }
  ) => Effect.Effect<void, ProviderApiError>
  /** Whether Sunshine answers: the app's switchboards, a small read that changes nothing. Tried once. */
  readonly probe: (app: ZendeskApp) => Effect.Effect<void, ProviderApiError>
}

/** A page of messages, oldest first; `hasMore`: there are older ones. Messages the gateway cannot read are left out and counted. */
export interface MessagePage {
  readonly messages: ReadonlyArray<Message>
  readonly hasMore: boolean
  readonly unreadable: number
}

const decodeMessage = Schema.decodeUnknownOption(Message)

export class ZendeskApi extends Context.Tag("hbf-lcg/ZendeskApi")<ZendeskApi, ZendeskApiService>() {}

const decodeError = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

const zendeskPolicy: ProviderHttpPolicy = {
  provider: "zendesk",
  maxInFlight: 8,
  rateLimitRetries: 4,
  // Without Retry-After: 500 ms, doubling with each 429, jittered.
  rateLimitWait: (n) =>
    Effect.map(Random.nextRange(1, 1.5), (jitter) => Duration.times(Duration.millis(500), 2 ** n * jitter)),
  maxRetryAfter: Duration.seconds(60),
  transientRetries: 2,
  // Sunshine's own words (its error title) are left out: they may repeat what the call carried.
  refusalOf: (body) => ({
    code: Option.flatMap(
      Option.flatMap(decodeError(body), (b) => Option.fromNullable(b.errors[0])),
      (e) => Option.fromNullable(e.code)
    )
  })
}

export const isStatus = (error: ProviderApiError, status: number) => error.status === status

export const ZendeskApiLive = Layer.effect(
  ZendeskApi,
  Effect.gen(function*() {
    const http = yield* makeProviderHttp(zendeskPolicy)

    const call = <A, I>(
      app: ZendeskApp,
      request: HttpClientRequest.HttpClientRequest,
      answer: Schema.Schema<A, I>,
      options: { readonly repeatable: boolean }
    ) => {
      const { config, tenantId } = app
      const credentials = credentialKeyOf(app)
      return http.call({
        credentials,
        label: credentialLabel(tenantId, credentials),
        baseUrl: `${config.apiBaseUrl}/v2/apps/${encodeURIComponent(config.appId)}`,
        request: HttpClientRequest.basicAuth(request, config.keyId, config.keySecret),
        answer,
        repeatable: options.repeatable
      })
    }

    const conversationPath = (conversationId: string) => `/conversations/${encodeURIComponent(conversationId)}`
    const listConversations = (app: ZendeskApp, userId: string) =>
      call(
        app,
        HttpClientRequest.get("/conversations").pipe(HttpClientRequest.setUrlParam("filter[userId]", userId)),
        ConversationList,
        {
          repeatable: true
        }
      ).pipe(
        Effect.map((list) =>
          Option.fromNullable(list.conversations.find((c) => c.type === undefined || c.type === "personal"))
        )
      )

    const service: ZendeskApiService = {
      user: (app, externalId, profile) =>
        call(
          app,
          HttpClientRequest.post("/users").pipe(HttpClientRequest.bodyUnsafeJson({ externalId, profile })),
          UserResponse,
          {
            repeatable: false
          }
        ).pipe(
          // 409: the user exists (an earlier livechat, or a concurrent request).
          Effect.catchIf(
            (e) => isStatus(e, 409),
            () =>
              call(app, HttpClientRequest.get(`/users/${encodeURIComponent(externalId)}`), UserResponse, {
                repeatable: true
              })
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
                  (e) =>
                    Effect.flatMap(
                      listConversations(app, userId),
                      Option.match({ onNone: () => Effect.fail(e), onSome: Effect.succeed })
                    )
                )
              )
          })),
      conversation: (app, conversationId) =>
        Effect.map(
          call(app, HttpClientRequest.get(conversationPath(conversationId)), ConversationResponse, {
            repeatable: true
          }),
          (r) => r.conversation
        ),
      postMessage: (app, conversationId, message) =>
        call(
          app,
          HttpClientRequest.post(`${conversationPath(conversationId)}/messages`).pipe(
            HttpClientRequest.bodyUnsafeJson(message)
          ),
          MessagePostResponse,
          { repeatable: false }
        ).pipe(
          Effect.flatMap(({ messages }) =>
            messages.length > 0
              ? Effect.succeed(messages[0]!)
              : Effect.fail(
                new ProviderApiError({
                  provider: "zendesk",
                  message: "Sunshine answered a message post without the message"
                })
              )
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
      switchboard: (app, conversationId, action, body) =>
        Effect.asVoid(
          call(
            app,
            HttpClientRequest.post(`${conversationPath(conversationId)}/${action}`).pipe(
              HttpClientRequest.bodyUnsafeJson(body)
            ),
            Schema.Unknown,
            { repeatable: true }
          )
        ),
      // Marking read twice is marking read once: repeatable.
      activity: (app, conversationId, activity) =>
        Effect.asVoid(
          call(
            app,
            HttpClientRequest.post(`${conversationPath(conversationId)}/activity`).pipe(
              HttpClientRequest.bodyUnsafeJson(activity)
            ),
            Schema.Unknown,
            { repeatable: true }
          )
        ),
      probe: (app) =>
        Effect.asVoid(call(app, HttpClientRequest.get("/switchboards"), Schema.Unknown, { repeatable: false }))
    }
    return service
  })
)
