/**
 * zendesk: Sunshine Conversations v2 with Switchboard
 * (docs/PROVIDERS.md#zendesk-sunshine-conversations-v2). Create finds or creates the Sunshine
 * user (external id = the subscriber), continues the user's personal conversation (an app has
 * one per user, so a second livechat of the same user reuses it), posts a handover note with
 * the bot transcript as the business, and passes control to the Agent Workspace with our ids as
 * metadata. Agent events come by webhook (X-API-Key); a polling backstop (./poller.ts) recovers
 * missed messages and a missed hand-back.
 *
 * The handover note marks where the session begins in the reused conversation: its id is
 * the backstop's first cursor and the ticket's first message (`first_message_id`), its
 * Sunshine time tells webhook events from before the session apart (`forSession`).
 */
import { Effect, Either, Option, Redacted, Schema } from "effect"
import {
  type Attachment,
  type Capabilities,
  jsonBytes,
  type ProviderEvent,
  type SessionRecord
} from "../../domain/model.js"
import type { LivechatConfig } from "../../domain/tenant.js"
import { headOf, partsOf } from "../../domain/textCuts.js"
import { Coordinator } from "../../services/Coordinator.js"
import { malformedWebhook, PayloadTooLarge, ProviderError } from "../../services/errors.js"
import type { LivechatProvider, UserMessage, WebhookBatch } from "../../services/LivechatProvider.js"
import { deliveryOf } from "../delivery.js"
import { openingText } from "../handover.js"
import { ownConfig, type ProviderApiError } from "../providerCalls.js"
import { askForPoll } from "../sessionPoller.js"
import { sha256Hex, sharedSecretMatches, wellFormedSharedSecret } from "../signatures.js"
import { makeThrottle } from "../throttle.js"
import { type Json, ZendeskApi, type ZendeskApp } from "./client.js"
import { agentWorkspace, mapWebhookEvent } from "./mapper.js"
import { WebhookBody, WebhookEvent } from "./schemas.js"

const alias = "zendesk" as const

export const apiKeyHeader = "x-api-key"

/** Events one webhook may carry; a body with more is refused (413) before any is applied. */
export const WEBHOOK_EVENTS = 100

/** What the gateway keeps of a Sunshine conversation with the session (its `providerState`). */
export const ZendeskConversationState = Schema.Struct({
  userId: Schema.String,
  /** Sunshine's time of the handover note: the conversation's events before it belong to earlier sessions. */
  since: Schema.String,
  /** The last message the polling backstop has read: it lists what comes after. */
  cursor: Schema.String
})
export type ZendeskConversationState = typeof ZendeskConversationState.Type

export const conversationStateOf = (session: SessionRecord): Option.Option<ZendeskConversationState> =>
  Schema.decodeUnknownOption(ZendeskConversationState)(session.providerState)

/** Sunshine's text limit per message. */
const TEXT_CHARS = 4_096
/** Sunshine's limit on an image or file message's `altText` (the OpenAPI spec's maxLength). */
export const ALT_TEXT_CHARS = 128
/** The spec's limits on a user's profile: `givenName`, `surname` and `email` 128, `locale` 64. */
const PROFILE_NAME_CHARS = 128
const LOCALE_CHARS = 64
/** What Sunshine takes as an e-mail address: something@somewhere, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+$/
/** The longest ending after the last dot that still counts as a file name's extension. */
const EXTENSION_CHARS = 16
const TRANSCRIPT_ENTRIES = 50
/** Switchboard metadata is limited to 4 KB; the session's own metadata gives way first. */
const SWITCHBOARD_METADATA_BYTES = 4_096

/**
 * A Sunshine message has one content: a long text goes in parts of TEXT_CHARS, each attachment
 * as an image or file message of its own (`messageContents`). A user author can send no typing
 * (docs/PROVIDERS.md#sunshine-typing), only `conversation:read`; the agent's typing and
 * attachments, and its `conversation:read`, come by webhook. A hand-back ends the session
 * (the backstop's `agent.left` and `session.ended`): no transfer back to a queue. Sunshine tells
 * no queue position.
 */
export const zendeskCapabilities = {
  provider: alias,
  userTyping: false,
  agentTyping: true,
  readReceipts: { user: true, agent: true },
  userAttachments: "native",
  agentAttachments: "native",
  maxTextLength: TEXT_CHARS,
  splitsLongText: true,
  queuePosition: "gateway",
  transfer: false
} satisfies Capabilities

const providerError = (error: ProviderApiError | { readonly message: string }) =>
  new ProviderError({ provider: alias, message: error.message })

/** The tenant's Sunshine app, as its calls are made. */
const zendeskOf = (config: LivechatConfig) =>
  Effect.map(ownConfig(config, alias), (own): ZendeskApp => ({ tenantId: own.tenantId, config: own.zendesk }))

const stateOf = (session: SessionRecord) =>
  Option.match(conversationStateOf(session), {
    onNone: () =>
      Effect.fail(
        new ProviderError({ provider: alias, message: `session ${session.sessionId} has no Sunshine conversation` })
      ),
    onSome: Effect.succeed
  })

const conversationIdOf = (session: SessionRecord) =>
  session.providerConversationId !== undefined
    ? Effect.succeed(session.providerConversationId)
    : Effect.fail(
      new ProviderError({ provider: alias, message: `session ${session.sessionId} has no Sunshine conversation` })
    )

const profileOf = (session: SessionRecord): Json => {
  const [givenName, ...rest] = (session.user?.name ?? "").trim().split(/\s+/)
  const { email, locale } = session.user ?? {}
  // Within the spec's limits, or Sunshine refuses the user and with it the handover (400, never
  // retried): names cut to 128, an e-mail or locale that cannot be one left out.
  return {
    ...(givenName !== undefined && givenName !== "" ? { givenName: headOf(givenName, PROFILE_NAME_CHARS) } : {}),
    ...(rest.length > 0 ? { surname: headOf(rest.join(" "), PROFILE_NAME_CHARS) } : {}),
    ...(email !== undefined && email.length <= PROFILE_NAME_CHARS && EMAIL.test(email) ? { email } : {}),
    ...(locale !== undefined && locale.length <= LOCALE_CHARS ? { locale } : {})
  }
}

/** What the Agent Workspace gets with the conversation: where the ticket starts, and our ids. */
export const handoverMetadata = (
  session: SessionRecord,
  firstMessageId: string
): Record<string, string | number | boolean> => {
  const ours: Record<string, string> = {
    first_message_id: firstMessageId,
    hbfSessionId: session.sessionId,
    hbfTenantId: session.tenantId,
    hbfSubscriber: session.subHandle,
    ...(session.channel !== undefined ? { hbfChannel: session.channel } : {}),
    ...(session.queue !== undefined ? { hbfQueue: session.queue } : {}),
    ...(session.user?.email !== undefined ? { userEmail: session.user.email } : {}),
    ...(session.user?.phone !== undefined ? { userPhone: session.user.phone } : {})
  }
  const metadata: Record<string, string | number | boolean> = { ...ours }
  for (const [key, value] of Object.entries(session.metadata ?? {})) {
    metadata[`metadata.${key}`] = value
    if (jsonBytes(metadata) > SWITCHBOARD_METADATA_BYTES) {
      delete metadata[`metadata.${key}`]
      break
    }
  }
  return metadata
}

/** Text longer than Sunshine takes in one message goes as several. */
const textParts = (text: string | undefined): ReadonlyArray<string> =>
  text === undefined ? [] : partsOf(text, TEXT_CHARS)

/**
 * An attachment's name as `altText`: a longer name would make Sunshine refuse the whole part
 * (400, never retried), so it is cut in the middle, "…" marking the cut, and keeps its
 * extension. Cut between characters, never inside a surrogate pair.
 */
export const altTextOf = (name: string): string => {
  if (name.length <= ALT_TEXT_CHARS) return name
  const dot = name.lastIndexOf(".")
  const extension = dot > 0 && name.length - dot <= EXTENSION_CHARS ? name.slice(dot) : ""
  return `${headOf(name.slice(0, name.length - extension.length), ALT_TEXT_CHARS - extension.length - 1)}…${extension}`
}

/**
 * A user's message as the contents of Sunshine messages: its text, then each attachment as an
 * image or file message (`mediaUrl` and `altText` only: `mediaType` and `mediaSize` are
 * Sunshine's own, read-only).
 */
const messageContents = (
  text: string | undefined,
  attachments: ReadonlyArray<Attachment> = []
): ReadonlyArray<Json> => [
  ...textParts(text).map((part) => ({ type: "text", text: part })),
  ...attachments.map((attachment) => ({
    type: attachment.contentType.startsWith("image/") ? "image" : "file",
    mediaUrl: attachment.url,
    ...(attachment.name !== undefined ? { altText: altTextOf(attachment.name) } : {})
  }))
]

/**
 * A user's message as Sunshine messages, one per content. Each part names the message and its
 * place (`hbfMessageId`, `hbfPart`), so a post whose answer was lost, or a retry after a part
 * failed, can tell what Sunshine already has.
 */
export const userMessageParts = (
  userId: string,
  messageId: string,
  text: string | undefined,
  attachments: ReadonlyArray<Attachment> = []
) => {
  const author = { type: "user", userId }
  return messageContents(text, attachments).map((content, part) => ({
    author,
    content,
    metadata: { hbfMessageId: messageId, hbfPart: part }
  }))
}

const zendeskDelivery = (message: UserMessage) =>
  deliveryOf(zendeskCapabilities, message, messageContents(message.text, message.attachments).length)

/** A failure after which Sunshine may nevertheless have stored the message: no answer, or a 5xx. */
const mayHaveApplied = (error: ProviderApiError) => error.status === undefined || error.status >= 500

const decodeEvent = Schema.decodeUnknownEither(WebhookEvent)

/**
 * A body's events grouped per conversation; events the gateway does not use are left out,
 * and so are unreadable ones (logged by type and id only: payloads carry what users wrote).
 */
const batchesOf = (body: typeof WebhookBody.Type) =>
  Effect.gen(function*() {
    const byConversation = new Map<string, { events: Array<ProviderEvent>; recheck: boolean }>()
    for (const raw of body.events) {
      const event = decodeEvent(raw)
      if (Either.isLeft(event)) {
        yield* Effect.logWarning("unreadable Sunshine webhook event skipped")
        continue
      }
      const mapped = mapWebhookEvent(event.right)
      if (mapped._tag === "Unreadable") {
        yield* Effect.logWarning("unreadable Sunshine webhook event skipped", {
          eventId: event.right.id,
          type: event.right.type,
          paths: mapped.reason
        })
        continue
      }
      if (mapped._tag === "Ignored") continue
      const batch = byConversation.get(mapped.conversationId) ?? { events: [], recheck: false }
      for (const event of mapped.events) batch.events.push(event)
      batch.recheck ||= mapped.recheck
      byConversation.set(mapped.conversationId, batch)
    }
    return [...byConversation].map(([conversationId, batch]): WebhookBatch => ({ conversationId, ...batch }))
  })

/** The user's reads reach Sunshine at most once a second per session. */
const READ_INTERVAL_MS = 1_000

export const makeZendeskProvider = Effect.gen(function*() {
  const api = yield* ZendeskApi
  const coordinator = yield* Coordinator
  const readThrottle = makeThrottle(READ_INTERVAL_MS, yield* Effect.clock)

  const provider: LivechatProvider<typeof alias> = {
    alias,
    capabilities: zendeskCapabilities,
    create: ({ config, session, tenant, transcript }) =>
      Effect.gen(function*() {
        const zendesk = yield* zendeskOf(config)
        const userId = yield* api.user(zendesk, session.subHandle, profileOf(session))
        const conversation = yield* api.personalConversation(zendesk, userId, { hbfSubscriber: session.subHandle })
        const note = yield* api.postMessage(zendesk, conversation.id, {
          author: { type: "business", ...(tenant.displayName !== "" ? { displayName: tenant.displayName } : {}) },
          content: {
            type: "text",
            text: openingText(session, transcript, { maxEntries: TRANSCRIPT_ENTRIES, maxChars: TEXT_CHARS })
          },
          metadata: { hbfSessionId: session.sessionId }
        })
        yield* api.switchboard(zendesk, conversation.id, "passControl", {
          switchboardIntegration: agentWorkspace.name,
          metadata: handoverMetadata(session, note.id)
        })
        const state: ZendeskConversationState = { userId, since: note.received, cursor: note.id }
        return { conversationId: conversation.id, providerState: state }
      }).pipe(Effect.mapError(providerError)),
    // Starts the session's backstop poller now rather than at its partition's next scan.
    follow: ({ session }) => askForPoll(coordinator, alias, session.sessionId),
    sendMessage: ({ config, session }, message) =>
      Effect.gen(function*() {
        const zendesk = yield* zendeskOf(config)
        const state = yield* stateOf(session)
        const conversationId = yield* conversationIdOf(session)
        const parts = userMessageParts(state.userId, message.messageId, message.text, message.attachments)
        /** The parts of this message Sunshine has (the newest page is where a retry's earlier attempt is). */
        const postedParts = Effect.map(api.messagesBefore(zendesk, conversationId), (page) => {
          const posted = new Map<unknown, string>()
          for (const m of page.messages) {
            if (m.metadata?.["hbfMessageId"] === message.messageId) posted.set(m.metadata["hbfPart"], m.id)
          }
          return posted
        })
        // A message in several parts may be a retry after one of them failed: those already posted are not posted again.
        const earlier = parts.length > 1
          ? yield* postedParts.pipe(Effect.mapError(providerError))
          : new Map<unknown, string>()
        const ids: Array<string> = []
        for (const [part, body] of parts.entries()) {
          const known = earlier.get(part)
          if (known !== undefined) {
            ids.push(known)
            continue
          }
          const posted = yield* Effect.either(api.postMessage(zendesk, conversationId, body))
          if (posted._tag === "Right") {
            ids.push(posted.right.id)
            continue
          }
          if (!mayHaveApplied(posted.left)) return yield* Effect.fail(providerError(posted.left))
          // The answer was lost or a 5xx: Sunshine may have stored it all the same. Look before calling it failed.
          const found = (yield* Effect.orElseSucceed(postedParts, () => new Map<unknown, string>())).get(part)
          if (found === undefined) return yield* Effect.fail(providerError(posted.left))
          ids.push(found)
        }
        const delivery = deliveryOf(zendeskCapabilities, message, parts.length)
        return ids.length > 0 ? { providerMessageId: ids[0]!, delivery } : { delivery }
      }),
    deliveryOf: zendeskDelivery,
    // No sendTyping: Sunshine takes typing from business authors only; a user can only mark the conversation read.
    // The read is of the whole conversation: Sunshine's activity names no message, so `upTo` says nothing more.
    sendRead: ({ config, session }) =>
      Effect.gen(function*() {
        // One Sunshine call (and its webhook back) a second per session at most: a read marks the whole
        // conversation, so one within the second tells the agent as much.
        if (!readThrottle.admit(session.sessionId)) return
        const zendesk = yield* zendeskOf(config)
        const { userId } = yield* stateOf(session)
        const conversationId = yield* conversationIdOf(session)
        yield* api
          .activity(zendesk, conversationId, { author: { type: "user", userId }, type: "conversation:read" })
          .pipe(Effect.mapError(providerError))
      }),
    probe: (config) => Effect.flatMap(zendeskOf(config), (app) => Effect.mapError(api.probe(app), providerError)),
    end: ({ config, session }, reason) =>
      Effect.gen(function*() {
        const zendesk = yield* zendeskOf(config)
        const conversationId = yield* conversationIdOf(session)
        // Control goes back to the default integration: the agents stop getting the conversation.
        yield* api
          .switchboard(zendesk, conversationId, "releaseControl", {
            metadata: { hbfSessionId: session.sessionId, hbfEndReason: reason }
          })
          .pipe(Effect.mapError(providerError))
      }),
    webhook: {
      authHeader: apiKeyHeader,
      wellFormed: wellFormedSharedSecret,
      // The shared secret names its tenants (a digest of it is remembered for each tenant that uses it): nothing of the body is read.
      senderOf: ({ headers }) =>
        Option.map(
          Option.fromNullable(headers[apiKeyHeader]),
          (secret) => ({ _tag: "Source", source: sha256Hex(secret) })
        ),
      sourceOf: (config) =>
        config.provider === alias
          ? Option.some(sha256Hex(Redacted.value(config.zendesk.webhookSecret)))
          : Option.none(),
      verify: (config, webhook) =>
        config.provider === alias &&
        sharedSecretMatches(Redacted.value(config.zendesk.webhookSecret), webhook.headers[apiKeyHeader]),
      parse: (body) =>
        Schema.decodeUnknown(Schema.parseJson(WebhookBody))(new TextDecoder().decode(body)).pipe(
          Effect.mapError(malformedWebhook),
          Effect.filterOrFail(
            (webhook) => webhook.events.length <= WEBHOOK_EVENTS,
            (webhook) =>
              new PayloadTooLarge({
                message: `a webhook carries at most ${WEBHOOK_EVENTS} events; this one has ${webhook.events.length}`
              })
          ),
          Effect.flatMap(batchesOf)
        ),
      forSession: (session, batch) =>
        Effect.gen(function*() {
          // A control change is confirmed (and the session's last messages read) by the backstop, now.
          if (batch.recheck === true) yield* Effect.forkDaemon(askForPoll(coordinator, alias, session.sessionId))
          // One conversation serves a user's successive livechats: what happened before this one began is not its.
          return Option.match(conversationStateOf(session), {
            onNone: () => batch.events,
            onSome: ({ since }) => batch.events.filter((event) => Date.parse(event.occurredAt) >= Date.parse(since))
          })
        })
    }
  }
  return provider
})
