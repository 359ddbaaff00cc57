/**
 * cisco-livechat: Cisco's Customer Collaboration Platform chat API
 * (docs/PROVIDERS.md#cisco-ccp-chat). Create opens a chat for the user (SocialContact: author,
 * title, the tenant's queue tag and the transcript and our ids as extension fields) and keeps
 * the chat's cookie, its poll cursor and the customer's name with the session, so any instance
 * can go on with the chat. Agent events come only by polling (./poller.ts); a user message asks
 * for an early poll.
 */
import { Effect, Option, Schema } from "effect"
import {
  type Attachment,
  type Capabilities,
  type ProviderEvent,
  requestLimits,
  type SessionRecord,
  type TranscriptEntry
} from "../../domain/model.js"
import type { CiscoConfig, LivechatConfig } from "../../domain/tenant.js"
import { nowIso } from "../../domain/time.js"
import { Coordinator } from "../../services/Coordinator.js"
import { ConversationOver, ProviderError } from "../../services/errors.js"
import type { LivechatProvider, SessionContext, UserMessage } from "../../services/LivechatProvider.js"
import { deliveryOf } from "../delivery.js"
import { keepEnd, transcriptLine } from "../handover.js"
import { ownConfig, type ProviderApiError } from "../providerCalls.js"
import { askForPoll } from "../sessionPoller.js"
import { makeThrottle } from "../throttle.js"
import { type CcpConfig, CiscoApi, isChatGone } from "./client.js"
import { ended, mapCcpEvents } from "./mapper.js"

const alias = "cisco-livechat" as const

/** What the gateway keeps of a chat with the session (its `providerState`). */
export const CiscoChatState = Schema.Struct({
  /** The JSESSIONID that identifies the chat to CCP. */
  cookie: Schema.String,
  /** The last CCP event id ingested: polls ask for what comes after it. */
  eventId: Schema.Int,
  /** The author name the chat was opened with; CCP names the customer's own events by it. */
  customer: Schema.String
})
export type CiscoChatState = typeof CiscoChatState.Type

export const chatStateOf = (session: SessionRecord): Option.Option<CiscoChatState> =>
  Schema.decodeUnknownOption(CiscoChatState)(session.providerState)

/** Extension field values are short strings; the transcript keeps its end. */
const TRANSCRIPT_CHARS = 4_000
const TYPING_INTERVAL_MS = 3_000

/**
 * A CCP chat carries plain text, one `<Message>` per user message (`messageText`): attachments
 * go as `name: url` lines in it, and an agent's files cannot come at all. No text limit is
 * documented (docs/PROVIDERS.md#cisco-ccp-chat): the longest text is the gateway's own request
 * limit. Typing goes both ways; no read receipts exist. The agent's leave ends the chat, so
 * there is no transfer back to a queue, and CCP tells no queue position.
 */
export const ciscoCapabilities = {
  provider: alias,
  userTyping: true,
  agentTyping: true,
  readReceipts: { user: false, agent: false },
  userAttachments: "as-links",
  agentAttachments: "none",
  maxTextLength: requestLimits.messageTextBytes,
  splitsLongText: false,
  queuePosition: "gateway",
  transfer: false
} satisfies Capabilities

/** One message, whatever its length: the text and its attachments go together. */
const ciscoDelivery = (message: UserMessage) => deliveryOf(ciscoCapabilities, message, 1)

const providerError = (error: ProviderApiError | { readonly message: string }) =>
  new ProviderError({ provider: alias, message: error.message })

const ciscoOf = (config: LivechatConfig) => ownConfig(config, alias)

const stateOf = (session: SessionRecord) =>
  Option.match(chatStateOf(session), {
    onNone: () =>
      Effect.fail(new ProviderError({ provider: alias, message: `session ${session.sessionId} has no CCP chat` })),
    onSome: Effect.succeed
  })

export const transcriptText = (transcript: ReadonlyArray<TranscriptEntry>) =>
  keepEnd(transcript.map(transcriptLine).join("\n"), TRANSCRIPT_CHARS)

const extensionFields = (
  session: SessionRecord,
  config: CiscoConfig,
  transcript: ReadonlyArray<TranscriptEntry>
): ReadonlyArray<readonly [string, string]> => {
  const optional = (name: string, value: string | undefined): ReadonlyArray<readonly [string, string]> =>
    value === undefined || value === "" ? [] : [[name, value]]
  return [
    // CCX routes the chat by its queue tag.
    ["ccxqueuetag", config.queueTag],
    ["hbfSessionId", session.sessionId],
    ["hbfTenantId", session.tenantId],
    ["hbfSubscriber", session.subHandle],
    ...optional("hbfChannel", session.channel),
    ...optional("userEmail", session.user?.email),
    ...optional("userPhone", session.user?.phone),
    ...optional("userLocale", session.user?.locale),
    ...optional("transcript", transcript.length > 0 ? transcriptText(transcript) : undefined),
    ...Object.entries(session.metadata ?? {}).map((
      [key, value]
    ): readonly [string, string] => [`metadata.${key}`, String(value)])
  ]
}

/** CCP chats carry text only: attachments reach the agent as their names and links. */
const messageText = (text: string | undefined, attachments: ReadonlyArray<Attachment> = []) =>
  [
    ...(text !== undefined && text.length > 0 ? [text] : []),
    ...attachments.map((a) => `${a.name ?? "attachment"}: ${a.url}`)
  ].join("\n")

export const makeCiscoProvider = Effect.gen(function*() {
  const api = yield* CiscoApi
  const coordinator = yield* Coordinator
  const typingThrottle = makeThrottle(TYPING_INTERVAL_MS, yield* Effect.clock)

  const pollNow = (session: SessionRecord) => askForPoll(coordinator, alias, session.sessionId)

  /**
   * A call for the user that CCP refused because the chat is over (the agent left or it timed
   * out: 400 invalidInput; the chat gone: 404 notFound) ends the session now, not at the next
   * poll: the chat is read at once, and if it shows its end, the failure is ConversationOver with
   * what it shows (the poller's events, by id). Any other refusal is a ProviderError.
   */
  const overOrFailed = (cisco: CcpConfig, session: SessionRecord, state: CiscoChatState) =>
  (
    error: ProviderApiError
  ): Effect.Effect<never, ProviderError | ConversationOver> =>
    Effect.gen(function*() {
      const chatId = session.providerConversationId ?? session.sessionId
      const now = yield* nowIso
      const over = (events: ReadonlyArray<ProviderEvent>) =>
        new ConversationOver({ provider: alias, message: error.message, events })
      if (isChatGone(error)) return yield* over([ended(chatId, now, "provider")])
      if (error.status !== 400 || error.code !== "invalidInput") return yield* providerError(error)
      const read = yield* Effect.either(api.poll(cisco, state.cookie, state.eventId))
      const events = read._tag === "Right"
        ? mapCcpEvents(chatId, state.customer, read.right, now)
        : isChatGone(read.left)
        ? [ended(chatId, now, "provider")]
        : []
      return yield* events.some((e) => e.type === "session.ended" || e.type === "request.failed")
        ? over(events)
        : providerError(error)
    })

  const provider: LivechatProvider<typeof alias> = {
    alias,
    capabilities: ciscoCapabilities,
    create: ({ config, session, transcript }) =>
      Effect.gen(function*() {
        const cisco = yield* ciscoOf(config)
        const customer = session.user?.name ?? session.subHandle
        const chat = yield* api
          .create(cisco, {
            author: customer,
            title: `Livechat request from ${customer}`,
            extensionFields: extensionFields(session, cisco.cisco, transcript)
          })
          .pipe(Effect.mapError(providerError))
        const state: CiscoChatState = { cookie: chat.cookie, eventId: 0, customer }
        return { conversationId: chat.chatId, providerState: state }
      }),
    follow: ({ session }: SessionContext) => pollNow(session),
    sendMessage: ({ config, session }, message) =>
      Effect.gen(function*() {
        const cisco = yield* ciscoOf(config)
        const state = yield* stateOf(session)
        yield* api.send(cisco, state.cookie, messageText(message.text, message.attachments)).pipe(
          Effect.catchAll(overOrFailed(cisco, session, state))
        )
        // The agent is likely to answer: look sooner than the next scheduled poll.
        yield* Effect.forkDaemon(pollNow(session))
        return { delivery: ciscoDelivery(message) }
      }),
    deliveryOf: ciscoDelivery,
    sendTyping: ({ config, session }) =>
      Effect.gen(function*() {
        if (!typingThrottle.admit(session.sessionId)) return
        const cisco = yield* ciscoOf(config)
        const state = yield* stateOf(session)
        yield* api.typing(cisco, state.cookie, state.customer, "composing").pipe(
          Effect.catchAll(overOrFailed(cisco, session, state))
        )
      }),
    end: ({ config, session }) =>
      Effect.gen(function*() {
        const cisco = yield* ciscoOf(config)
        const state = yield* stateOf(session)
        // The customer leaves (the agent sees it), then the chat session is stopped; a chat already gone is fine.
        // Both are tried: a failed leave must not keep the chat session open at CCP.
        const left = yield* Effect.either(
          api.leave(cisco, state.cookie).pipe(Effect.catchIf(isChatGone, () => Effect.void))
        )
        yield* api.close(cisco, state.cookie).pipe(Effect.catchIf(isChatGone, () => Effect.void))
        if (left._tag === "Left") return yield* Effect.fail(left.left)
      }).pipe(Effect.mapError(providerError)),
    probe: (config) => Effect.flatMap(ciscoOf(config), (cisco) => Effect.mapError(api.probe(cisco), providerError))
    // No webhook: CCP pushes nothing, everything is polled.
  }
  return provider
})
