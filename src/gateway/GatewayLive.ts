/**
 * The Gateway's use cases over the store, the providers and hbf-core. Every session change
 * is a compare-and-set: on a conflict the change is recomputed from the fresh record.
 */
import { randomUUID } from "node:crypto"
import { Clock, Duration, Effect, Either, Layer, Option, Schedule } from "effect"
import { mayAccess, type TenantAccess } from "../domain/access.js"
import { evaluateBusinessHours } from "../domain/businessHours.js"
import type {
  Availability,
  EndReason,
  LivechatEvent,
  ProviderAlias,
  ProviderEvent,
  SessionRecord
} from "../domain/model.js"
import { metadataOverLimit, toSession } from "../domain/model.js"
import { nowIso } from "../domain/time.js"
import { applyEvent, cancel, endByGateway, isOpen, type Transition } from "../domain/stateMachine.js"
import { type LivechatConfig, type Tenant, tenantConfigFor } from "../domain/tenant.js"
import { AppConfig } from "../services/AppConfig.js"
import {
  BadRequest,
  Forbidden,
  InvalidSignature,
  InvalidTransition,
  MessageInFlight,
  LivechatNotConfigured,
  LivechatUnavailable,
  ProviderError,
  SessionEnded,
  SessionNotFound,
  SessionOpenElsewhere,
  StoreUnavailable,
  type TenantNotFound,
  UpstreamUnavailable
} from "../services/errors.js"
import { Gateway, type GatewayService, type IngestResult } from "../services/Gateway.js"
import { HbfCore } from "../services/HbfCore.js"
import type { IncomingWebhook, LivechatProvider, ProviderAvailability, WebhookSender } from "../services/LivechatProvider.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { countIngested, countUnknownConversations, countWebhookRefused } from "../infra/metrics.js"
import { traced } from "../infra/Tracing.js"
import { type ForwardedMessage, MESSAGE_CLAIM_LEASE, type MessageReservation, type SessionChange, SessionStore } from "../services/SessionStore.js"

/** Concurrent writers to one session are rare; a handful of recomputations always settles them. */
const MAX_CAS_ATTEMPTS = 16

/** How long a retried message waits for the earlier attempt's outcome before answering MessageInFlight, and how often it looks. */
const IN_FLIGHT_WAIT = Duration.seconds(10)
const IN_FLIGHT_POLL = Duration.millis(100)

const conflictError = (sessionId: string) =>
  new StoreUnavailable({ message: `session ${sessionId} kept changing under concurrent writes; try again` })

const noneSeen: ReadonlySet<string> = new Set()

/** The session of `found` with the greatest `key`: the newest, or an open one before an ended one. */
const foremost = (found: ReadonlyArray<Option.Option<SessionRecord>>, key: (session: SessionRecord) => string) =>
  Option.fromNullable(
    found.flatMap(Option.toArray).reduce<SessionRecord | undefined>((best, s) => (best === undefined || key(s) > key(best) ? s : best), undefined)
  )

const unverifiedWebhook = new InvalidSignature({ message: "the webhook could not be verified" })

const verificationUnavailable = new UpstreamUnavailable({ service: "hbf-core", message: "the webhook cannot be verified now; try again" })

/** What a caller is told about another tenant: the same as about one that does not exist, or nothing it may touch. */
const forbiddenTenant = (tenantId: string) => new Forbidden({ message: `this token cannot act in tenant ${tenantId}` })

const noSessionOf = (subHandle: string, tenantId?: string) =>
  new SessionNotFound({
    message: tenantId === undefined ? `subscriber ${subHandle} has no session` : `subscriber ${subHandle} has no session with tenant ${tenantId}`
  })

export const makeGateway = Effect.gen(function* () {
  const config = yield* AppConfig
  const store = yield* SessionStore
  const core = yield* HbfCore
  const registry = yield* ProviderRegistry

  const livechatOf = (tenant: Tenant) =>
    Either.match(tenant.livechat, {
      onLeft: (why) =>
        Effect.fail(new LivechatNotConfigured({ tenantId: tenant.id, message: `tenant ${tenant.id}: ${why}` })),
      onRight: (livechat) => Effect.succeed(livechat)
    })

  const providerFor = (tenant: Tenant, livechat: LivechatConfig) =>
    registry
      .get(livechat.provider)
      .pipe(
        Effect.mapError((e) => new LivechatNotConfigured({ tenantId: tenant.id, message: `tenant ${tenant.id}: ${e.message}` }))
      )

  /** The event as hbf-bot receives it, numbered after the session's last event. */
  const numbered = (session: SessionRecord, event: ProviderEvent, seq: number): LivechatEvent =>
    ({
      id: event.id,
      sessionId: session.sessionId,
      tenantId: session.tenantId,
      organizationId: session.organizationId,
      subHandle: session.subHandle,
      provider: session.provider,
      seq,
      occurredAt: event.occurredAt,
      type: event.type,
      data: event.data
    }) as LivechatEvent

  /**
   * Reads the session, lets `decide` compute a change from it, commits it with a
   * compare-and-set, and starts over from the fresh record on a conflict.
   */
  const changeSession = <A, E>(
    sessionId: string,
    decide: (session: SessionRecord) => Effect.Effect<{ change?: Omit<SessionChange, "expectedVersion">; result: A }, E>,
    /** The record as the caller just read it: the first attempt starts from it instead of reading again. */
    known?: SessionRecord
  ): Effect.Effect<A | "duplicate", E | SessionNotFound | StoreUnavailable> => {
    const attempt = (n: number): Effect.Effect<A | "duplicate", E | SessionNotFound | StoreUnavailable> =>
      Effect.gen(function* () {
        const session = n === 0 && known !== undefined ? Option.some(known) : yield* store.get(sessionId)
        if (Option.isNone(session)) return yield* new SessionNotFound({ message: `session ${sessionId} does not exist` })
        const { change, result } = yield* decide(session.value)
        if (change === undefined) return result
        const outcome = yield* store.commit({ ...change, expectedVersion: session.value.version })
        if (outcome === "committed") return result
        if (outcome === "duplicate") return "duplicate" as const
        if (n + 1 >= MAX_CAS_ATTEMPTS) return yield* conflictError(sessionId)
        return yield* attempt(n + 1)
      })
    return attempt(0)
  }

  /** The record after `transition`, with the events it produced numbered and ready to append. */
  const withEvents = (session: SessionRecord, next: SessionRecord, events: ReadonlyArray<ProviderEvent>) => {
    const numberedEvents = events.map((e, i) => numbered(next, e, session.lastSeq + 1 + i))
    return {
      next: { ...next, version: session.version + 1, lastSeq: session.lastSeq + events.length },
      events: numberedEvents
    }
  }

  /** Ends a session on the gateway's side (user, timeout) and tells the provider, best effort. */
  const endSession = (
    sessionId: string,
    reason: EndReason,
    transition: (session: SessionRecord, now: string) => Transition
  ) =>
    Effect.gen(function* () {
      const ended = yield* changeSession(sessionId, (session) =>
        Effect.gen(function* () {
          const now = yield* nowIso
          const t = transition(session, now)
          if (t._tag === "Drop") {
            return yield* new InvalidTransition({ message: t.reason, status: session.status })
          }
          const event: ProviderEvent = {
            id: `${session.sessionId}:ended`,
            occurredAt: now,
            type: "session.ended",
            data: { reason }
          }
          // A timeout is decided on the session's activity: it must not end a session the user wrote in since it was read.
          const decidedOnActivity = reason === "timeout" || reason === "inactivity" ? { expectedActivity: session.lastActivityAt } : {}
          return { change: { ...withEvents(session, t.next, [event]), seen: [event.id], ...decidedOnActivity }, result: t.next }
        })
      )
      if (ended === "duplicate") return
      yield* tellProviderEnd(ended, reason)
      return ended
    })

  /** The provider a session runs on, with the tenant's livechat config as hbf-core has it now. */
  const providerOfSession = (session: SessionRecord) =>
    Effect.gen(function* () {
      const tenant = yield* core.tenant(session.tenantId)
      const livechat = yield* livechatOf(tenant)
      const provider = yield* providerFor(tenant, livechat)
      return { provider, context: { session, config: livechat } }
    })

  /**
   * While an earlier request with the same message id is forwarding it (`reservation` is
   * InFlight), waits (up to IN_FLIGHT_WAIT) for that outcome: forwarded, or released after a
   * failure, in which case this request claims it and forwards it.
   */
  const awaitInFlight = (sessionId: string, messageId: string, reservation: MessageReservation) =>
    reservation._tag !== "InFlight"
      ? Effect.succeed(reservation)
      : Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
          const retry: Effect.Effect<MessageReservation, StoreUnavailable> = Effect.zipRight(
            Effect.sleep(IN_FLIGHT_POLL),
            Effect.flatMap(store.reserveMessage(sessionId, messageId), (again) =>
              again._tag !== "InFlight"
                ? Effect.succeed(again)
                : Effect.flatMap(Clock.currentTimeMillis, (now) =>
                    now - startedAt >= Duration.toMillis(IN_FLIGHT_WAIT) ? Effect.succeed(again) : retry
                  )
            )
          )
          return retry
        })

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
        Effect.logWarning(`could not ${what}; retrying in the background`, { sessionId, messageId, reason: first.message }),
        Effect.forkDaemon(
          write.pipe(
            Effect.retry(
              Schedule.exponential(Duration.millis(200)).pipe(
                Schedule.either(Schedule.spaced(Duration.seconds(5))),
                Schedule.upTo(Duration.subtract(MESSAGE_CLAIM_LEASE, Duration.seconds(5)))
              )
            ),
            Effect.catchAll((last) =>
              Effect.logError(`could not ${what} before the claim's lease lapses`, { sessionId, messageId, reason: last.message })
            )
          )
        )
      )
    )

  const recordForwarded = (sessionId: string, messageId: string, result: ForwardedMessage, at: string) =>
    settleClaim(sessionId, messageId, "record the forwarded message", store.completeMessage(sessionId, messageId, result, at))

  const releaseClaim = (sessionId: string, messageId: string) =>
    settleClaim(sessionId, messageId, "give the message's claim back", store.releaseMessage(sessionId, messageId))

  /** A failure on the way to the provider (hbf-core, a tenant without config) is the provider call's failure. */
  const asProviderError =
    (session: SessionRecord) =>
    (e: ProviderError | TenantNotFound | UpstreamUnavailable | LivechatNotConfigured): ProviderError =>
      e._tag === "ProviderError" ? e : new ProviderError({ provider: session.provider, message: e.message })

  const tellProviderEnd = (session: SessionRecord, reason: EndReason) =>
    Effect.gen(function* () {
      const { context, provider } = yield* providerOfSession(session)
      yield* provider.end(context, reason).pipe(traced("provider.end", { captureStackTrace: false, attributes: { provider: provider.alias, reason } }))
    }).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning("could not tell the provider that the session ended", { reason: e.message })
      ),
      Effect.annotateLogs({ sessionId: session.sessionId, provider: session.provider })
    )

  /**
   * The subscriber's latest session as the caller sees it: in `tenantId` when the route names
   * one; else a platform token's latest session of the subscriber, or the latest of a confined
   * token's tenants'. Each is read from its own index, so what another tenant does with the
   * subscriber never shows (docs/SECURITY.md).
   */
  const latestVisible = (subHandle: string, access: TenantAccess, tenantId?: string): Effect.Effect<Option.Option<SessionRecord>, StoreUnavailable> => {
    if (tenantId !== undefined) return mayAccess(access, tenantId) ? store.latestBySubscriber(subHandle, tenantId) : Effect.succeedNone
    if (access === "all") return store.latestBySubscriber(subHandle)
    return Effect.map(
      Effect.forEach(access, (own) => store.latestBySubscriber(subHandle, own)),
      (found) => foremost(found, (s) => s.createdAt)
    )
  }

  const openSessionOf = (subHandle: string, access: TenantAccess, tenantId?: string) =>
    Effect.flatMap(latestVisible(subHandle, access, tenantId), (latest) =>
      Option.match(latest, { onNone: () => Effect.fail(noSessionOf(subHandle, tenantId)), onSome: Effect.succeed })
    )

  const ingest = (
    provider: ProviderAlias,
    tenantId: string,
    conversationId: string,
    events: ReadonlyArray<ProviderEvent>
  ): Effect.Effect<IngestResult, StoreUnavailable> =>
    Effect.gen(function* () {
      const found = yield* store.byConversation(provider, tenantId, conversationId)
      if (Option.isNone(found)) {
        yield* Effect.logInfo("event for an unknown conversation", { provider, conversationId })
        return { accepted: 0, unknown: 1 }
      }
      const { accepted, unknown } = yield* ingestInto(found.value.sessionId, events, undefined, found.value)
      return { accepted, unknown }
    })

  /**
   * Events for a known session: de-duplicated, applied and appended in one commit, with the
   * adapter's `providerState` patch (a poll cursor) when given.
   */
  const ingestInto = (
    sessionId: string,
    events: ReadonlyArray<ProviderEvent>,
    providerState?: Readonly<Record<string, unknown>>,
    /** The record as the caller just read it (a webhook's routing read), so the change need not read it again. */
    known?: SessionRecord
  ): Effect.Effect<IngestResult & { readonly open: boolean }, StoreUnavailable> =>
    Effect.gen(function* () {
      const withState = (session: SessionRecord): SessionRecord =>
        providerState === undefined ? session : { ...session, providerState: { ...session.providerState, ...providerState } }
      // Taken from the record the change is decided on: no read of the session beforehand.
      let open = false
      let provider: ProviderAlias | undefined
      const accepted = yield* changeSession(sessionId, (session) =>
        Effect.gen(function* () {
          open = isOpen(session.status)
          provider = session.provider
          // Nothing applies to an ended session, and nothing is remembered as seen for it either:
          // a provider that carries successive sessions in one conversation (Sunshine) can still
          // deliver an event routed here too early to the session it belongs to.
          if (!open) return { result: [] as ReadonlyArray<ProviderEvent> }
          // A lone event is committed without asking first: the commit itself refuses it as a
          // duplicate when it was seen. A batch asks, so that its fresh events still apply.
          const seen = events.length === 1 && providerState === undefined ? noneSeen : yield* store.seen(sessionId, events.map((e) => e.id))
          const fresh = events.filter((e, i) => !seen.has(e.id) && events.findIndex((o) => o.id === e.id) === i)
          if (fresh.length === 0) {
            return providerState === undefined
              ? { result: [] as ReadonlyArray<ProviderEvent> }
              : { change: { next: { ...withState(session), version: session.version + 1 } }, result: [] as ReadonlyArray<ProviderEvent> }
          }
          const now = yield* nowIso
          let current = session
          const applied: Array<ProviderEvent> = []
          for (const event of fresh) {
            const t = applyEvent(current, event, now)
            if (t._tag === "Apply") {
              current = t.next
              applied.push(event)
            } else {
              yield* Effect.logInfo("event dropped", { sessionId, eventId: event.id, type: event.type, provider: session.provider, reason: t.reason })
            }
          }
          open = isOpen(current.status)
          // Dropped events are remembered too, so a redelivery is not reconsidered later.
          return { change: { ...withEvents(session, withState(current), applied), seen: fresh.map((e) => e.id) }, result: applied }
        }),
        known
      ).pipe(
        // The one log line inside names the session itself: annotateLogs around the commit costs CPU on every event (see forwardMessage).
        Effect.catchTag("SessionNotFound", () => Effect.sync(() => (open = false)).pipe(Effect.as([] as ReadonlyArray<ProviderEvent>)))
      )
      const persisted = accepted === "duplicate" ? [] : accepted
      const ingestedFor = provider
      if (ingestedFor !== undefined && persisted.length > 0) yield* countIngested(ingestedFor, persisted)
      return { accepted: persisted.length, unknown: 0, open }
    }).pipe(traced("ingest", { captureStackTrace: false, attributes: { sessionId, events: events.length } }))

  const service: GatewayService = {
    create: (request, access) =>
      Effect.gen(function* () {
        if (!mayAccess(access, request.tenantId)) return yield* forbiddenTenant(request.tenantId)
        // A confined token's livechat is its tenant's alone: other tenants' never hold it, nor it theirs.
        const confined = access !== "all"
        const tenant = yield* core.tenant(request.tenantId)
        const livechat = yield* livechatOf(tenant)
        const provider = yield* providerFor(tenant, livechat)

        const existing = yield* store.latestBySubscriber(request.subHandle, confined ? request.tenantId : undefined)
        if (Option.isSome(existing) && isOpen(existing.value.status)) {
          return yield* reuseOpen(existing.value, request.tenantId)
        }

        const nowMillis = yield* Clock.currentTimeMillis
        const hours = evaluateBusinessHours(livechat.businessHours, tenant.timezone, new Date(nowMillis))
        if (!hours.openNow) {
          return yield* new LivechatUnavailable({
            reason: "outside-business-hours",
            message: `tenant ${tenant.id} is outside its business hours`,
            ...(hours.nextOpenAt !== undefined ? { nextOpenAt: hours.nextOpenAt.toISOString() } : {})
          })
        }

        const now = new Date(nowMillis).toISOString()
        const record: SessionRecord = {
          sessionId: randomUUID(),
          tenantId: tenant.id,
          organizationId: tenant.organizationId,
          subHandle: request.subHandle,
          provider: provider.alias,
          status: "pending",
          createdAt: now,
          lastActivityAt: now,
          version: 0,
          lastSeq: 0,
          ...(request.channel !== undefined ? { channel: request.channel } : {}),
          ...(request.queue !== undefined ? { queue: request.queue } : {}),
          ...(request.user !== undefined ? { user: request.user } : {}),
          ...(request.metadata !== undefined ? { metadata: request.metadata } : {}),
          ...(confined ? { confined } : {})
        }
        // Before the provider hears of the session (the webhooks it sends about it must find their tenant), and
        // before the session is stored: a store failing here leaves no pending session behind, only a harmless entry.
        const source = Option.flatMap(Option.fromNullable(provider.webhook?.sourceOf), (sourceOf) => sourceOf(livechat))
        if (Option.isSome(source)) yield* store.rememberWebhookSource(provider.alias, source.value, tenant.id)
        const inserted = yield* store.create(record)
        if (inserted._tag === "Open") return yield* reuseOpen(inserted.existing, request.tenantId)

        const created = yield* provider
          .create({
            session: record,
            tenant,
            config: livechat,
            transcript: request.transcript ?? [],
            ...(request.metadata !== undefined ? { metadata: request.metadata } : {}),
            callbackUrl: `${config.publicUrl}/events/${provider.alias}`
          })
          .pipe(
            Effect.tapError((e) =>
              Effect.zipRight(
                Effect.logWarning("the provider refused the livechat request", { reason: e.message }),
                // The request never reached an agent: close it quietly, hbf-bot learns from the 502.
                changeSession(record.sessionId, (session) =>
                  Effect.map(nowIso, (at) => {
                    const t = endByGateway(session, "error", at)
                    return t._tag === "Apply" ? { change: withEvents(session, t.next, []), result: undefined } : { result: undefined }
                  })
                ).pipe(Effect.ignore)
              )
            ),
            Effect.annotateLogs({ sessionId: record.sessionId, provider: provider.alias }),
            traced("provider.create", { captureStackTrace: false, attributes: { provider: provider.alias, sessionId: record.sessionId } })
          )

        const opened = yield* changeSession(record.sessionId, (session) => {
          let next: SessionRecord = {
            ...session,
            providerConversationId: created.conversationId,
            ...(created.providerState !== undefined ? { providerState: created.providerState } : {})
          }
          const applied: Array<ProviderEvent> = []
          for (const event of created.events ?? []) {
            const t = applyEvent(next, event, now)
            if (t._tag === "Apply") {
              next = t.next
              applied.push(event)
            }
          }
          return Effect.succeed({
            change: { ...withEvents(session, next, applied), seen: applied.map((e) => e.id) },
            result: next
          })
        }).pipe(
          Effect.catchTag("SessionNotFound", () =>
            Effect.fail(new StoreUnavailable({ message: `session ${record.sessionId} vanished while it was created` }))
          )
        )
        if (opened !== "duplicate" && provider.follow !== undefined) {
          yield* provider.follow({ session: opened, config: livechat })
        }
        yield* Effect.logInfo("livechat requested").pipe(
          Effect.annotateLogs({ sessionId: record.sessionId, provider: provider.alias, tenantId: tenant.id })
        )
        return { created: true, session: toSession(opened === "duplicate" ? record : opened) }
      }),

    update: (subHandle, patch, access, tenantId) =>
      Effect.gen(function* () {
        const open = yield* openSessionOf(subHandle, access, tenantId)
        if (!isOpen(open.status)) {
          return yield* new SessionNotFound({ message: `subscriber ${subHandle} has no open session` })
        }
        if (patch.status === "cancelled") {
          const ended = yield* endSession(open.sessionId, "user", cancel)
          return toSession(ended ?? open)
        }
        const updated = yield* changeSession(open.sessionId, (session) =>
          Effect.gen(function* () {
            if (!isOpen(session.status)) {
              return yield* new InvalidTransition({ message: `the session has ${session.status}`, status: session.status })
            }
            // The request's metadata is within the limits alone; merged into the session's it must be too.
            const metadata = patch.metadata !== undefined ? { ...session.metadata, ...patch.metadata } : undefined
            const overLimit = metadata !== undefined ? metadataOverLimit(metadata) : undefined
            if (overLimit !== undefined) {
              const message = `${overLimit}, merged with the session's metadata`
              return yield* new BadRequest({ message: `metadata: ${message}`, fields: [{ path: "metadata", message }] })
            }
            const next: SessionRecord = {
              ...session,
              version: session.version + 1,
              ...(patch.user !== undefined ? { user: { ...session.user, ...patch.user } } : {}),
              ...(metadata !== undefined ? { metadata } : {})
            }
            return { change: { next }, result: session }
          })
        )
        const fresh = yield* store.get(open.sessionId)
        return toSession(Option.getOrElse(fresh, () => (updated === "duplicate" ? open : updated)))
      }),

    terminate: (tenantId, subHandle, access) =>
      Effect.gen(function* () {
        const open = yield* openSessionOf(subHandle, access, tenantId)
        if (!isOpen(open.status)) {
          return yield* new SessionNotFound({ message: `subscriber ${subHandle} has no open session with tenant ${tenantId}` })
        }
        yield* endSession(open.sessionId, "user", (s, now) => endByGateway(s, "user", now)).pipe(
          Effect.catchTag("InvalidTransition", () =>
            Effect.fail(new SessionNotFound({ message: `subscriber ${subHandle} has no open session with tenant ${tenantId}` }))
          )
        )
      }),

    forwardMessage: (message, access) =>
      Effect.gen(function* () {
        if (!mayAccess(access, message.tenantId)) return yield* noSessionOf(message.subHandle, message.tenantId)
        const found = yield* store.reserveSubscriberMessage(message.subHandle, message.tenantId, message.messageId)
        if (Option.isNone(found)) return yield* noSessionOf(message.subHandle, message.tenantId)
        const { session } = found.value
        const reservation = yield* awaitInFlight(session.sessionId, message.messageId, found.value.reservation)
        const accepted = { messageId: message.messageId, sessionId: session.sessionId }
        if (reservation._tag === "Forwarded") return { ...accepted, ...reservation.result }
        // Never a 202 for a message not (yet) sent: the earlier attempt may still fail, or its instance have died.
        if (reservation._tag === "InFlight") {
          return yield* new MessageInFlight({
            messageId: message.messageId,
            message: `message ${message.messageId} is still being forwarded by an earlier request; retry`
          })
        }
        if (!isOpen(session.status)) {
          yield* releaseClaim(session.sessionId, message.messageId)
          return yield* new SessionEnded({ sessionId: session.sessionId, message: `session ${session.sessionId} has ended` })
        }
        const sent = yield* Effect.flatMap(providerOfSession(session), ({ context, provider }) =>
          provider
            .sendMessage(context, {
              messageId: message.messageId,
              ...(message.text !== undefined ? { text: message.text } : {}),
              ...(message.attachments !== undefined ? { attachments: message.attachments } : {})
            })
            .pipe(traced("provider.sendMessage", { captureStackTrace: false, attributes: { provider: provider.alias, sessionId: session.sessionId } }))
        ).pipe(
          // No annotateLogs: around the provider call it cost ~35 µs of CPU per message (in-process forwardMessage
          // 168 -> 132 µs without it), and the clients log per credential set, not per session.
          Effect.catchAll((e) => Effect.zipRight(releaseClaim(session.sessionId, message.messageId), Effect.fail(asProviderError(session)(e))))
        )
        // A user message counts as activity for the inactivity timeout.
        yield* recordForwarded(session.sessionId, message.messageId, sent, yield* nowIso)
        return { ...accepted, ...sent }
      }),

    userTyping: ({ subHandle, tenantId }, access) =>
      Effect.gen(function* () {
        const session = yield* openSessionOf(subHandle, access, tenantId)
        if (!isOpen(session.status)) {
          return yield* new SessionEnded({ sessionId: session.sessionId, message: `session ${session.sessionId} has ended` })
        }
        const forwarded = yield* Effect.gen(function* () {
          const { context, provider } = yield* providerOfSession(session)
          if (provider.sendTyping === undefined) return false
          yield* provider.sendTyping(context)
          return true
        }).pipe(Effect.mapError(asProviderError(session)))
        return { sessionId: session.sessionId, forwarded }
      }),

    count: (organizationId, status, access) =>
      store.count(organizationId, status, access === "all" ? undefined : [...access]),

    waitingMetrics: (tenantId, windowSeconds, access) =>
      Effect.gen(function* () {
        if (!mayAccess(access, tenantId)) return yield* forbiddenTenant(tenantId)
        const now = yield* Clock.currentTimeMillis
        const stats = yield* store.waitingStats(tenantId, now - windowSeconds * 1000)
        return { averageWaitingSeconds: Math.round(stats.averageSeconds), waitingCount: stats.pending }
      }),

    state: (subHandle, access, tenantId) =>
      Effect.map(latestVisible(subHandle, access, tenantId), (latest) =>
        Option.match(latest, {
          onNone: () => ({ subHandle, state: "none" as const }),
          onSome: (s) => ({ subHandle, state: s.status, session: toSession(s) })
        })
      ),

    availability: (tenantId, access) =>
      Effect.gen(function* () {
        if (!mayAccess(access, tenantId)) return yield* forbiddenTenant(tenantId)
        const tenant = yield* core.tenant(tenantId)
        const nowMillis = yield* Clock.currentTimeMillis
        if (Either.isLeft(tenant.livechat)) {
          return {
            tenantId,
            available: false,
            reason: "not-configured",
            businessHours: { timezone: tenant.timezone ?? "UTC", openNow: false }
          } satisfies Availability
        }
        const livechat = tenant.livechat.right
        const hours = evaluateBusinessHours(livechat.businessHours, tenant.timezone, new Date(nowMillis))
        const businessHours = {
          timezone: hours.timezone,
          openNow: hours.openNow,
          ...(hours.nextOpenAt !== undefined ? { nextOpenAt: hours.nextOpenAt.toISOString() } : {}),
          ...(hours.nextCloseAt !== undefined ? { nextCloseAt: hours.nextCloseAt.toISOString() } : {})
        }
        const provider = yield* Effect.either(providerFor(tenant, livechat))
        if (Either.isLeft(provider)) {
          return { tenantId, available: false, reason: "not-configured", businessHours } satisfies Availability
        }
        const agents = provider.right.availability
          ? yield* Effect.either(provider.right.availability(livechat))
          : Either.right<ProviderAvailability>({})
        if (Either.isLeft(agents)) {
          return { tenantId, available: false, reason: "provider-unreachable", businessHours } satisfies Availability
        }
        const known = {
          ...(agents.right.agentsOnline !== undefined ? { agentsOnline: agents.right.agentsOnline } : {}),
          ...(agents.right.estimatedWaitSeconds !== undefined
            ? { estimatedWaitSeconds: agents.right.estimatedWaitSeconds }
            : {})
        }
        const reason = !hours.openNow ? "outside-business-hours" : agents.right.agentsOnline === 0 ? "no-agents" : undefined
        return {
          tenantId,
          available: reason === undefined,
          ...(reason !== undefined ? { reason } : {}),
          businessHours,
          ...known
        } satisfies Availability
      }),

    ingestWebhook: (alias, webhook) =>
      Effect.gen(function* () {
        const provider = yield* registry.get(alias)
        const hooks = provider.webhook
        // A provider that pushes nothing (CCP) sends no genuine webhook: refused like any unverifiable one.
        if (hooks === undefined) return yield* refuseWebhook(alias)
        const header = webhook.headers[hooks.authHeader]
        if (header === undefined || !hooks.wellFormed(header)) return yield* refuseWebhook(alias)
        const sender = hooks.senderOf(webhook)
        if (Option.isNone(sender)) return yield* refuseWebhook(alias)
        const { named, tenants } = yield* verifiedSender(provider, hooks, sender.value, webhook)
        if (tenants.length === 0) return yield* refuseWebhook(alias)
        // Authentic: only now is the body decoded.
        const batches = yield* hooks.parse(webhook.body)
        let accepted = 0
        let unknown = 0
        for (const batch of batches) {
          const session =
            "sessionId" in batch
              ? Option.filter(Option.fromNullable(named), (s) => s.sessionId === batch.sessionId)
              : yield* conversationOfTenants(provider.alias, tenants, batch.conversationId)
          if (Option.isNone(session)) {
            unknown++
            continue
          }
          const events = hooks.forSession !== undefined ? yield* hooks.forSession(session.value, batch) : batch.events
          const result = yield* ingestInto(session.value.sessionId, events, undefined, session.value)
          accepted += result.accepted
          unknown += result.unknown
        }
        // Counted, not logged one by one: a webhook names up to a hundred conversations.
        if (unknown > 0) yield* countUnknownConversations(alias, unknown)
        return { accepted, unknown }
      }),

    ingest,

    ingestPolled: (sessionId, events, providerState) =>
      Effect.map(ingestInto(sessionId, events, providerState), ({ accepted, open }) => ({ accepted, open })),

    sweepTimeouts: (partition) =>
      Effect.gen(function* () {
      const open = yield* store.openSessions(partition)
      const now = yield* Clock.currentTimeMillis
      let ended = 0
      const stillOpen: Array<Pick<SessionRecord, "provider" | "status">> = []
      for (const session of open) {
        const reason = yield* timedOut(session, now).pipe(
          Effect.catchAll((e) =>
            Effect.as(Effect.logWarning("cannot check the session's timeouts", { sessionId: session.sessionId, reason: e.message }), undefined)
          )
        )
        if (reason === undefined) {
          stillOpen.push({ provider: session.provider, status: session.status })
          continue
        }
        const done = yield* endSession(session.sessionId, reason, (s, at) =>
          // Re-checked against the fresh record: an agent may have joined meanwhile.
          isOpen(s.status) && s.status === session.status && s.lastActivityAt === session.lastActivityAt
            ? endByGateway(s, reason, at)
            : { _tag: "Drop", reason: "the session moved on" }
        ).pipe(Effect.catchTags({ InvalidTransition: () => Effect.void, SessionNotFound: () => Effect.void }))
        if (done !== undefined) {
          ended++
          yield* Effect.logInfo("session timed out", { sessionId: session.sessionId, reason })
        } else {
          stillOpen.push({ provider: session.provider, status: session.status })
        }
      }
      return { ended, open: stillOpen }
      })
  }

  /**
   * A new request while one is open: the same tenant gets it back (idempotent), another
   * tenant (a platform token's request: a confined one never meets another tenant's) is refused.
   */
  function reuseOpen(open: SessionRecord, tenantId: string) {
    if (open.tenantId === tenantId) return Effect.succeed({ created: false, session: toSession(open) })
    return Effect.fail(
      new SessionOpenElsewhere({
        subHandle: open.subHandle,
        message: `subscriber ${open.subHandle} has an open livechat with another tenant`
      })
    )
  }

  /** One answer for every webhook that cannot be verified, whatever the reason: none of them tells what exists. */
  function refuseWebhook(alias: string) {
    return Effect.zipRight(countWebhookRefused(alias), Effect.fail(unverifiedWebhook))
  }

  /**
   * The tenants whose secrets verify the webhook, among those its sender leads to (the named
   * session's tenant, or the tenants remembered for its source), and the named session.
   */
  function verifiedSender(
    provider: LivechatProvider,
    hooks: NonNullable<LivechatProvider["webhook"]>,
    sender: WebhookSender,
    webhook: IncomingWebhook
  ) {
    return Effect.gen(function* () {
      const verifies = (tenantId: string) =>
        core.tenant(tenantId).pipe(
          Effect.map((tenant) => Option.exists(tenantConfigFor(tenant, provider.alias), (config) => hooks.verify(config, webhook))),
          // A tenant gone from hbf-core verifies nothing. hbf-core away is a 503, so that the provider
          // retries, that names nothing (no tenant, no cause) to a caller not yet verified.
          Effect.catchTags({
            TenantNotFound: () => Effect.succeed(false),
            UpstreamUnavailable: () => Effect.fail(verificationUnavailable)
          })
        )
      if (sender._tag === "Session") {
        const session = Option.filter(yield* store.get(sender.sessionId), (s) => s.provider === provider.alias)
        if (Option.isNone(session) || !(yield* verifies(session.value.tenantId))) return { tenants: [] as ReadonlyArray<string> }
        return { named: session.value, tenants: [session.value.tenantId] }
      }
      const candidates = yield* store.webhookSourceTenants(provider.alias, sender.source)
      return { tenants: yield* Effect.filter(candidates, verifies) }
    })
  }

  /**
   * The session of a provider conversation among the verified tenants' (tenants sharing a
   * webhook secret may each have one on the conversation): an open one before an ended one,
   * the newest first.
   */
  function conversationOfTenants(provider: ProviderAlias, tenants: ReadonlyArray<string>, conversationId: string) {
    return Effect.map(
      Effect.forEach(tenants, (tenantId) => store.byConversation(provider, tenantId, conversationId)),
      (found) => foremost(found, (s) => `${isOpen(s.status) ? 1 : 0}${s.createdAt}`)
    )
  }

  /** Why the session is over its tenant's timeouts, if it is. */
  function timedOut(
    session: SessionRecord,
    now: number
  ): Effect.Effect<EndReason | undefined, TenantNotFound | UpstreamUnavailable | LivechatNotConfigured> {
    return Effect.map(Effect.flatMap(core.tenant(session.tenantId), livechatOf), ({ timeouts }) => {
      if (session.status === "pending") {
        // A request back in the queue after a transfer waits from its last activity.
        const since = Date.parse(session.assignedAt !== undefined ? session.lastActivityAt : session.createdAt)
        return now - since > timeouts.pendingSeconds * 1000 ? "timeout" : undefined
      }
      return now - Date.parse(session.lastActivityAt) > timeouts.inactivitySeconds * 1000 ? "inactivity" : undefined
    })
  }

  return service
})

export const GatewayLive = Layer.effect(Gateway, makeGateway)
