/**
 * The user's messages, typing and read receipts, forwarded to the session's provider. A message is claimed
 * per messageId in the store before it is sent, so a retry is answered from the first
 * forward instead of sending it again.
 */
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { createHash } from "node:crypto"
import { mayAccess, type TenantAccess } from "../domain/access.js"
import type { Attachment, SessionRecord } from "../domain/model.js"
import { isOpen } from "../domain/stateMachine.js"
import { nowIso } from "../domain/time.js"
import { traced } from "../infra/Tracing.js"
import {
  type ConversationOver,
  MessageIdReused,
  MessageInFlight,
  type ProviderError,
  SessionEnded,
  type StoreUnavailable
} from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { Ingest } from "../services/Ingest.js"
import type { LivechatProvider, SessionContext } from "../services/LivechatProvider.js"
import { Messaging, type MessagingService } from "../services/Messaging.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import {
  type ForwardedMessage,
  MESSAGE_CLAIM_LEASE,
  type MessageReservation,
  SessionStore
} from "../services/SessionStore.js"
import { asProviderError, noSessionOf, providerOfSession, visibleSessionOf } from "./lookups.js"

/** How long a retried message waits for the earlier attempt's outcome before answering MessageInFlight, and how often it looks. */
const IN_FLIGHT_WAIT = Duration.seconds(10)
const IN_FLIGHT_POLL = Duration.millis(100)

/**
 * Looks at a message claimed by an earlier request again every IN_FLIGHT_POLL while it is in
 * flight with this message (`fingerprint`), for up to IN_FLIGHT_WAIT; its output is the last
 * reservation seen.
 */
const inFlightPolls = (fingerprint: string) =>
  Schedule.recurWhile((reservation: MessageReservation) =>
    reservation._tag === "InFlight" && !reusedFor(reservation, fingerprint)
  ).pipe(
    Schedule.zipLeft(Schedule.spaced(IN_FLIGHT_POLL)),
    Schedule.upTo(IN_FLIGHT_WAIT)
  )

/** How a claim's bookkeeping is retried in the background: quickly at first, then every 5 s, until shortly before the claim's lease lapses. */
const settleRetries = Schedule.exponential(Duration.millis(200)).pipe(
  Schedule.either(Schedule.spaced(Duration.seconds(5))),
  Schedule.upTo(Duration.subtract(MESSAGE_CLAIM_LEASE, Duration.seconds(5)))
)

/**
 * What a message says, as a digest kept with its claim: a retry says the same, another message
 * sent under the same id does not. Text and attachments only (not the ids that route it); an
 * empty text or attachment list is none, so a retry that drops empty fields is the same message.
 * Attachments are decoded with their fields in the schema's order, whatever order they came in.
 */
const fingerprintOf = (
  message: { readonly text?: string | undefined; readonly attachments?: ReadonlyArray<Attachment> | undefined }
) =>
  createHash("sha256")
    .update(JSON.stringify([message.text || null, message.attachments?.length ? message.attachments : null]))
    .digest("base64url")
    .slice(0, 22)

/** The claim is another message's: it has a fingerprint, and not this one's. */
const reusedFor = (reservation: MessageReservation, fingerprint: string) =>
  reservation._tag !== "Reserved" && reservation.fingerprint !== undefined && reservation.fingerprint !== fingerprint

const sessionEnded = (sessionId: string) =>
  Effect.fail(new SessionEnded({ sessionId, message: `session ${sessionId} has ended` }))

export const makeMessaging = Effect.gen(function*() {
  const store = yield* SessionStore
  const ingest = yield* Ingest
  const registry = yield* ProviderRegistry
  const providerOf = providerOfSession(yield* HbfCore, registry)
  const sessionOf = visibleSessionOf(store)

  /**
   * While an earlier request with the same message id is forwarding it (`reservation` is
   * InFlight), waits (up to IN_FLIGHT_WAIT) for that outcome: forwarded, or released after a
   * failure, in which case this request claims it and forwards it.
   */
  const awaitInFlight = (sessionId: string, messageId: string, fingerprint: string, reservation: MessageReservation) =>
    reservation._tag !== "InFlight" || reusedFor(reservation, fingerprint)
      ? Effect.succeed(reservation)
      : Effect.scheduleFrom(
        store.reserveMessage(sessionId, messageId, fingerprint),
        reservation,
        inFlightPolls(fingerprint)
      )

  /**
   * A message claim's bookkeeping (recording what the provider returned, or giving the claim
   * back), which a moment without the store must not lose: tried at once, and when the store
   * is away, retried in the background until it lands or the claim's lease would have lapsed
   * anyway. The caller gets its answer meanwhile. A result left unrecorded would let a retry
   * of the message send it again once the lease lapsed; a claim left in place would answer
   * its retries MessageInFlight until then.
   */
  const settleClaim = (
    sessionId: string,
    messageId: string,
    what: "record the forwarded message" | "give the message's claim back",
    write: Effect.Effect<void, StoreUnavailable>
  ) =>
    Effect.catchAll(write, (first) =>
      Effect.zipRight(
        Effect.logWarning(`could not ${what}; retrying in the background`, {
          sessionId,
          messageId,
          reason: first.message
        }),
        Effect.forkDaemon(
          write.pipe(
            Effect.retry(settleRetries),
            Effect.catchAll((last) =>
              Effect.logError(`could not ${what} before the claim's lease lapses`, {
                sessionId,
                messageId,
                reason: last.message
              })
            )
          )
        )
      ))

  /**
   * The provider said the conversation is over before the gateway heard it: the session ends
   * now with what the provider shows of the end (the same events, by id, its feed brings later),
   * and the caller gets what it gets a moment later anyway, SessionEnded. Were the store away,
   * the provider's own feed still ends the session.
   */
  const endedByProvider = (sessionId: string, over: ConversationOver) =>
    ingest.ingestPolled(sessionId, over.events, {}).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning("could not end a session its provider says is over; its feed will", {
          sessionId,
          reason: e.message
        })
      ),
      Effect.zipRight(sessionEnded(sessionId))
    )

  /** A failed call for the user: the session's end when the provider said so, else a ProviderError. */
  const sendFailed = (
    session: SessionRecord,
    e: Parameters<ReturnType<typeof asProviderError>>[0] | ConversationOver
  ): Effect.Effect<never, SessionEnded | ProviderError> =>
    e._tag === "ConversationOver" ? endedByProvider(session.sessionId, e) : Effect.fail(asProviderError(session)(e))

  const recordForwarded = (
    sessionId: string,
    messageId: string,
    fingerprint: string,
    result: ForwardedMessage,
    at: string
  ) =>
    settleClaim(
      sessionId,
      messageId,
      "record the forwarded message",
      store.completeMessage(sessionId, messageId, fingerprint, result, at)
    )

  const releaseClaim = (sessionId: string, messageId: string) =>
    settleClaim(sessionId, messageId, "give the message's claim back", store.releaseMessage(sessionId, messageId))

  /**
   * Something the agent is shown of the user (typing, a read receipt), through the session
   * provider's call for it (`sendOf`): forwarded false where the provider has none.
   */
  const signalAgent = (
    { subHandle, tenantId }: { readonly subHandle: string; readonly tenantId: string },
    access: TenantAccess,
    sendOf: (
      provider: LivechatProvider
    ) => ((context: SessionContext) => Effect.Effect<void, ProviderError | ConversationOver>) | undefined
  ) =>
    Effect.gen(function*() {
      const session = yield* sessionOf(subHandle, access, tenantId)
      if (!isOpen(session.status)) return yield* sessionEnded(session.sessionId)
      const forwarded = yield* Effect.gen(function*() {
        const { context, provider } = yield* providerOf(session)
        const send = sendOf(provider)
        if (send === undefined) return false
        yield* send(context)
        return true
      }).pipe(
        Effect.catchAll((e) => sendFailed(session, e))
      )
      return { sessionId: session.sessionId, forwarded }
    })

  const service: MessagingService = {
    forwardMessage: (message, access) =>
      Effect.gen(function*() {
        if (!mayAccess(access, message.tenantId)) return yield* noSessionOf(message.subHandle, message.tenantId)
        const fingerprint = fingerprintOf(message)
        // perf: docs/ARCHITECTURE.md#perf-store-round-trips
        const found = yield* store.reserveSubscriberMessage(
          message.subHandle,
          message.tenantId,
          message.messageId,
          fingerprint
        )
        if (Option.isNone(found)) return yield* noSessionOf(message.subHandle, message.tenantId)
        const { session } = found.value
        const reservation = yield* awaitInFlight(
          session.sessionId,
          message.messageId,
          fingerprint,
          found.value.reservation
        )
        // Answering the first message's result would drop this one's text without a word.
        if (reusedFor(reservation, fingerprint)) {
          return yield* new MessageIdReused({
            messageId: message.messageId,
            message:
              `messageId ${message.messageId} was already used for a message with other text or attachments; send this one under a new messageId`
          })
        }
        const accepted = { messageId: message.messageId, sessionId: session.sessionId }
        if (reservation._tag === "Forwarded") {
          const { delivery, ...result } = reservation.result
          if (delivery !== undefined) return { ...accepted, ...result, delivery }
          // Stored by a version that kept no delivery: what the session's provider makes of this same message,
          // asking nothing of hbf-core (the message was sent: its retry must not fail on a tenant look-up).
          return yield* Effect.match(registry.get(session.provider), {
            onFailure: () => ({ ...accepted, ...result, delivery: { parts: 1 } }),
            onSuccess: (provider) => ({ ...accepted, ...result, delivery: provider.deliveryOf(message) })
          })
        }
        // Never a 202 for a message not (yet) sent: the earlier attempt may still fail, or its instance have died.
        if (reservation._tag === "InFlight") {
          return yield* new MessageInFlight({
            messageId: message.messageId,
            message: `message ${message.messageId} is still being forwarded by an earlier request; retry`
          })
        }
        if (!isOpen(session.status)) {
          yield* releaseClaim(session.sessionId, message.messageId)
          return yield* sessionEnded(session.sessionId)
        }
        const sent = yield* Effect.flatMap(providerOf(session), ({ context, provider }) =>
          provider
            .sendMessage(context, {
              messageId: message.messageId,
              ...(message.text !== undefined ? { text: message.text } : {}),
              ...(message.attachments !== undefined ? { attachments: message.attachments } : {})
            })
            .pipe(
              traced("provider.sendMessage", {
                captureStackTrace: false,
                attributes: { provider: provider.alias, sessionId: session.sessionId }
              })
            )).pipe(
            // No annotateLogs: around the provider call it cost ~35 µs of CPU per message (in-process forwardMessage
            // 168 -> 132 µs without it), and the clients log per credential set, not per session.
            // perf: docs/ARCHITECTURE.md#perf-no-log-annotations
            Effect.catchAll((e) =>
              Effect.zipRight(
                releaseClaim(session.sessionId, message.messageId),
                sendFailed(session, e)
              )
            )
          )
        // A user message counts as activity for the inactivity timeout.
        yield* recordForwarded(session.sessionId, message.messageId, fingerprint, sent, yield* nowIso)
        return { ...accepted, ...sent }
      }),

    userTyping: (typing, access) => signalAgent(typing, access, (provider) => provider.sendTyping),

    userRead: (read, access) =>
      signalAgent(
        read,
        access,
        ({ sendRead }) => sendRead === undefined ? undefined : (context) => sendRead(context, read.messageId)
      )
  }
  return service
})

export const MessagingLive = Layer.effect(Messaging, makeMessaging)
