/**
 * Sunshine's webhooks: every change emits an event into an outbox drained by one worker, so
 * that deliveries to the target stay in event order; each call is retried as the real service
 * retries, and may be dropped or sent twice when scripted. Also the changes that emit them.
 */
import { Duration, Effect, Option, Queue } from "effect"
import type { Scope } from "effect"
import { postOnce } from "../http/outbound.js"
import {
  conversationRef,
  type ConversationState,
  type DeliveryState,
  hexId,
  nowIso,
  opt,
  type ZendeskState
} from "./state.js"
import type {
  AgentIdentity,
  SunshineMetadata,
  SwitchboardAction,
  SwitchboardIntegration,
  SwitchboardReason,
  WebhookEvent,
  WebhookEventType,
  ZendeskMessage
} from "./types.js"

const DEFAULT_RETRY_DELAYS_MS = [200, 400, 800, 1600]
const DEFAULT_WEBHOOK_TIMEOUT_MS = 20_000
const MAX_EVENTS_PER_CALL = 10
const NO_RETRY_STATUSES = new Set([400, 401, 403, 404, 406])

/** An event waiting in the outbox, with the target it was emitted for. */
interface OutgoingEvent {
  readonly event: WebhookEvent
  readonly url: string
  readonly duplicate: boolean
}

export interface ZendeskWebhooks {
  readonly addMessage: (c: ConversationState, message: ZendeskMessage) => void
  /** Control moves (or is offered): recorded on the conversation and emitted as switchboard:<action>. */
  readonly changeControl: (
    c: ConversationState,
    action: SwitchboardAction,
    by: "api" | "agent",
    next: { active: SwitchboardIntegration | undefined; pending: SwitchboardIntegration | undefined },
    extra?: { metadata?: SunshineMetadata | null | undefined; reason?: SwitchboardReason }
  ) => void
  /** conversation:typing from a business author; without one (`author` is optional in the spec) when none is given. */
  readonly typingEvent: (
    c: ConversationState,
    type: "typing:start" | "typing:stop",
    author: AgentIdentity | undefined
  ) => void
  /** conversation:read: the user (marking it read through the API) or the agent has read the conversation. */
  readonly readEvent: (
    c: ConversationState,
    author: { readonly type: "user"; readonly userId: string } | {
      readonly type: "business"
      readonly agent: AgentIdentity
    }
  ) => void
  /** Waits until every event emitted so far is delivered or given up. */
  readonly awaitWebhooks: Effect.Effect<void>
}

export const makeWebhooks = (state: ZendeskState): Effect.Effect<ZendeskWebhooks, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { options } = state
    const retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS
    const webhookTimeoutMs = options.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS
    const webhookId = hexId()
    const outbox = yield* Queue.unbounded<OutgoingEvent>()
    /** Events emitted and not yet delivered or given up (awaitWebhooks). */
    let undeliveredEvents = 0

    const emit = (type: WebhookEventType, payload: Record<string, unknown>) => {
      const event: WebhookEvent = { id: hexId(), createdAt: nowIso(), type, payload }
      const record = (outcome: DeliveryState["outcome"]) =>
        state.deliveries.push({
          url: state.webhookUrl,
          eventIds: [event.id],
          types: [type],
          statuses: [],
          outcome,
          duplicate: false
        })
      if (Option.isSome(state.drops.take((filter) => filter === undefined || filter(event)))) return record("dropped")
      if (state.webhookUrl === undefined) return record("noTarget")
      const duplicate = Option.isSome(state.duplicates.take())
      undeliveredEvents += 1
      Queue.unsafeOffer(outbox, { event, url: state.webhookUrl, duplicate })
    }

    /** One POST: the answer status, 0 when none came (refused, reset, timed out). */
    const post = (url: string, body: string) =>
      postOnce(
        url,
        body,
        {
          "content-type": "application/json",
          "x-api-key": options.webhookSecret,
          "user-agent": "sunshine-conversations-sim"
        },
        webhookTimeoutMs
      ).pipe(
        Effect.map((answer) => answer.status),
        Effect.orElseSucceed(() => 0)
      )

    /** Attempts until a 2xx, a status never retried, or the attempts run out. */
    const sendWithRetries = (url: string, body: string, events: ReadonlyArray<WebhookEvent>, duplicate: boolean) =>
      Effect.gen(function*() {
        const record: DeliveryState = {
          url,
          eventIds: events.map((e) => e.id),
          types: events.map((e) => e.type),
          statuses: [],
          outcome: "pending",
          duplicate
        }
        state.deliveries.push(record)
        for (let attempt = 0;; attempt++) {
          const status = yield* post(url, body)
          record.statuses.push(status)
          if (status >= 200 && status < 300) {
            record.outcome = "delivered"
            return
          }
          if (NO_RETRY_STATUSES.has(status) || attempt >= retryDelaysMs.length) {
            record.outcome = "failed"
            yield* Effect.logDebug(
              `zendesk sim -> webhook ${record.eventIds.join(",")} gave up after ${record.statuses.join(", ")}`
            )
            return
          }
          yield* Effect.sleep(Duration.millis(retryDelaysMs[attempt]!))
        }
      })

    const deliverCall = (call: ReadonlyArray<OutgoingEvent>) =>
      Effect.gen(function*() {
        const url = call[0]!.url
        const events = call.map((o) => o.event)
        const body = JSON.stringify({ app: { id: options.appId }, webhook: { id: webhookId, version: "v2" }, events })
        yield* sendWithRetries(url, body, events, false)
        if (call.some((o) => o.duplicate)) yield* sendWithRetries(url, body, events, true)
        undeliveredEvents -= call.length
      })

    /** Events taken from the outbox but not sent yet (a batch stops at a change of target). */
    let carried: Array<OutgoingEvent> = []
    const deliverNext = Effect.gen(function*() {
      if (carried.length === 0) carried.push(yield* Queue.take(outbox))
      let size = 1
      if (options.batchWebhookEvents === true) {
        yield* Effect.yieldNow() // let the events of the same tick arrive
        for (const event of yield* Queue.takeAll(outbox)) carried.push(event)
        while (size < carried.length && size < MAX_EVENTS_PER_CALL && carried[size]!.url === carried[0]!.url) size++
      }
      const call = carried.slice(0, size)
      carried = carried.slice(size)
      yield* deliverCall(call)
    })
    yield* Effect.forkScoped(Effect.forever(deliverNext))

    return {
      addMessage: (c, message) => {
        c.messages.push(message)
        emit("conversation:message", { conversation: conversationRef(c), message })
      },
      changeControl: (c, action, by, next, extra = {}) => {
        const from = c.active?.name
        c.active = next.active
        c.pending = next.pending
        if (c.active?.id !== state.agentWorkspace.id) c.agent = undefined
        const metadata = extra.metadata ?? undefined
        c.switchboardActions.push({
          action,
          by,
          at: nowIso(),
          ...opt("from", from),
          ...opt("to", c.active?.name),
          ...opt("pending", c.pending?.name),
          ...opt("metadata", metadata),
          ...opt("reason", extra.reason)
        })
        emit(`switchboard:${action}`, {
          conversation: conversationRef(c),
          ...opt("metadata", metadata),
          ...opt("reason", extra.reason)
        })
      },
      typingEvent: (c, type, author) =>
        emit("conversation:typing", {
          conversation: conversationRef(c),
          activity: {
            type,
            ...(author !== undefined
              ? {
                author: { type: "business", displayName: author.displayName, ...opt("avatarUrl", author.avatarUrl) }
              }
              : {})
          }
        }),
      readEvent: (c, author) =>
        emit("conversation:read", {
          conversation: conversationRef(c),
          activity: {
            type: "conversation:read",
            author: author.type === "user"
              ? author
              : {
                type: "business",
                displayName: author.agent.displayName,
                ...opt("avatarUrl", author.agent.avatarUrl)
              }
          }
        }),
      awaitWebhooks: Effect.gen(function*() {
        while (undeliveredEvents > 0) yield* Effect.sleep(Duration.millis(10))
      })
    }
  })
