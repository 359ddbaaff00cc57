/**
 * The event path: provider events from webhooks, sockets and pollers, de-duplicated, applied
 * to their session and appended to its outbox in one session change.
 */
import { Effect, Layer, Option } from "effect"
import type { ProviderAlias, ProviderEvent, SessionRecord } from "../domain/model.js"
import { applyEvent, isOpen } from "../domain/stateMachine.js"
import { tenantConfigFor } from "../domain/tenant.js"
import { nowIso } from "../domain/time.js"
import type { DropReason, EventVia, TimelineEntryInput } from "../domain/timeline.js"
import { countIngested, countUnknownConversations, countWebhookRefused } from "../infra/metrics.js"
import { traced } from "../infra/Tracing.js"
import { InvalidSignature, type StoreUnavailable, UpstreamUnavailable } from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { Ingest, type IngestResult, type IngestService } from "../services/Ingest.js"
import type { IncomingWebhook, LivechatProvider, WebhookSender } from "../services/LivechatProvider.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { SessionChanges } from "../services/SessionChanges.js"
import { SessionStore } from "../services/SessionStore.js"
import { Timeline } from "../services/Timeline.js"
import { foremost } from "./lookups.js"
import { withEvents } from "./SessionChanges.js"

const noneSeen: ReadonlySet<string> = new Set()

const unverifiedWebhook = new InvalidSignature({ message: "the webhook could not be verified" })

const verificationUnavailable = new UpstreamUnavailable({
  service: "hbf-core",
  message: "the webhook cannot be verified now; try again"
})

/** One answer for every webhook that cannot be verified, whatever the reason: none of them tells what exists. */
const refuseWebhook = (alias: string) => Effect.zipRight(countWebhookRefused(alias), Effect.fail(unverifiedWebhook))

export const makeIngest = Effect.gen(function*() {
  const store = yield* SessionStore
  const core = yield* HbfCore
  const registry = yield* ProviderRegistry
  const changes = yield* SessionChanges
  const timeline = yield* Timeline

  /**
   * Events for a known session: de-duplicated, applied and appended in one commit, with the
   * adapter's `providerState` patch (a poll cursor) when given.
   */
  const ingestInto = (
    sessionId: string,
    events: ReadonlyArray<ProviderEvent>,
    via: EventVia,
    providerState?: Readonly<Record<string, unknown>>,
    /** The record as the caller just read it (a webhook's routing read), so the change need not read it again. */
    known?: SessionRecord
  ): Effect.Effect<IngestResult & { readonly open: boolean }, StoreUnavailable> =>
    Effect.gen(function*() {
      const withState = (session: SessionRecord): SessionRecord =>
        providerState === undefined
          ? session
          : { ...session, providerState: { ...session.providerState, ...providerState } }
      // Taken from the record the change is decided on: no read of the session beforehand.
      // perf: docs/ARCHITECTURE.md#perf-store-round-trips
      let open = false
      let provider: ProviderAlias | undefined
      // What the session's timeline is told of events no change applied (duplicates, an ended session),
      // decided with the change (a conflict decides again) and recorded after it; what a change applied
      // the commit records itself (SessionDecision.entries).
      let told: Array<TimelineEntryInput> = []
      // A poll reads again what the gateway already has (the Sunshine backstop, a Genesys re-read):
      // its duplicates are the mechanism working, and would push a long chat's entries out of its timeline.
      const tellsDuplicates = via !== "poll"
      const dropped = (event: ProviderEvent, reason: DropReason): TimelineEntryInput => ({
        kind: "event.dropped",
        eventId: event.id,
        type: event.type,
        reason,
        via
      })
      const duplicates = (of: ReadonlyArray<ProviderEvent>) =>
        tellsDuplicates ? of.map((e) => dropped(e, "duplicate")) : []
      const accepted = yield* changes.change(sessionId, (session) =>
        Effect.gen(function*() {
          open = isOpen(session.status)
          provider = session.provider
          // Nothing applies to an ended session, and nothing is remembered as seen for it either:
          // a provider that carries successive sessions in one conversation (Sunshine) can still
          // deliver an event routed here too early to the session it belongs to.
          if (!open) {
            told = events.map((e) => dropped(e, "session-ended"))
            return { result: [] as ReadonlyArray<ProviderEvent> }
          }
          // A lone event is committed without asking first: the commit itself refuses it as a
          // duplicate when it was seen. A batch asks, so that its fresh events still apply.
          // perf: docs/ARCHITECTURE.md#perf-store-round-trips
          const seen = events.length === 1 && providerState === undefined
            ? noneSeen
            : yield* store.seen(sessionId, events.map((e) => e.id))
          const fresh: Array<ProviderEvent> = []
          told = []
          events.forEach((e, i) => {
            if (!seen.has(e.id) && events.findIndex((o) => o.id === e.id) === i) fresh.push(e)
            else if (tellsDuplicates) told.push(dropped(e, "duplicate"))
          })
          if (fresh.length === 0) {
            return providerState === undefined
              ? { result: [] as ReadonlyArray<ProviderEvent> }
              : {
                change: { next: { ...withState(session), version: session.version + 1 } },
                result: [] as ReadonlyArray<ProviderEvent>
              }
          }
          const now = yield* nowIso
          let current = session
          const applied: Array<ProviderEvent> = []
          for (const event of fresh) {
            const t = applyEvent(current, event, now)
            if (t._tag === "Apply") {
              current = t.next
              applied.push(t.event)
              told.push({ kind: "event.received", eventId: event.id, type: event.type, via })
            } else {
              told.push(dropped(event, t.as))
              yield* Effect.logInfo("event dropped", {
                sessionId,
                eventId: event.id,
                type: event.type,
                provider: session.provider,
                reason: t.reason
              })
            }
          }
          open = isOpen(current.status)
          // Recorded by the commit, before the state these events moved the session to.
          const entries = told
          told = []
          // Dropped events are remembered too, so a redelivery is not reconsidered later.
          return {
            change: { ...withEvents(session, withState(current), applied), seen: fresh.map((e) => e.id) },
            entries,
            result: applied
          }
        }), known).pipe(
          // The one log line inside names the session itself: annotateLogs around the commit costs CPU
          // on every event (see forwardMessage in Messaging.ts).
          // perf: docs/ARCHITECTURE.md#perf-no-log-annotations
          Effect.catchTag("SessionNotFound", () =>
            Effect.sync(() => {
              open = false
              told = []
            }).pipe(Effect.as([] as ReadonlyArray<ProviderEvent>)))
        )
      // The store refused the events as seen (a lone event, committed without asking first).
      if (accepted === "duplicate") told = duplicates(events)
      for (const entry of told) yield* timeline.record(sessionId, entry)
      const persisted = accepted === "duplicate" ? [] : accepted
      const ingestedFor = provider
      if (ingestedFor !== undefined && persisted.length > 0) {
        yield* countIngested(ingestedFor, persisted)
      }
      return { accepted: persisted.length, unknown: 0, open }
    }).pipe(traced("ingest", { captureStackTrace: false, attributes: { sessionId, events: events.length } }))

  /**
   * The tenants whose secrets verify the webhook, among those its sender leads to (the named
   * session's tenant, or the tenants remembered for its source), and the named session.
   */
  const verifiedSender = (
    provider: LivechatProvider,
    hooks: NonNullable<LivechatProvider["webhook"]>,
    sender: WebhookSender,
    webhook: IncomingWebhook
  ) =>
    Effect.gen(function*() {
      const verifies = (tenantId: string) =>
        core.tenant(tenantId).pipe(
          Effect.map((tenant) =>
            Option.exists(tenantConfigFor(tenant, provider.alias), (config) => hooks.verify(config, webhook))
          ),
          // A tenant gone from hbf-core verifies nothing. hbf-core away is a 503, so that the provider
          // retries, that names nothing (no tenant, no cause) to a caller not yet verified.
          Effect.catchTags({
            TenantNotFound: () => Effect.succeed(false),
            UpstreamUnavailable: () => Effect.fail(verificationUnavailable)
          })
        )
      if (sender._tag === "Session") {
        const session = Option.filter(yield* store.get(sender.sessionId), (s) => s.provider === provider.alias)
        if (Option.isNone(session) || !(yield* verifies(session.value.tenantId))) {
          return { tenants: [] as ReadonlyArray<string> }
        }
        return { named: session.value, tenants: [session.value.tenantId] }
      }
      const candidates = yield* store.webhookSourceTenants(provider.alias, sender.source)
      return { tenants: yield* Effect.filter(candidates, verifies) }
    })

  /**
   * The session of a provider conversation among the verified tenants' (tenants sharing a
   * webhook secret may each have one on the conversation): an open one before an ended one,
   * the newest first.
   */
  const conversationOfTenants = (provider: ProviderAlias, tenants: ReadonlyArray<string>, conversationId: string) =>
    Effect.map(
      Effect.forEach(tenants, (tenantId) => store.byConversation(provider, tenantId, conversationId)),
      (found) => foremost(found, (s) => `${isOpen(s.status) ? 1 : 0}${s.createdAt}`)
    )

  const service: IngestService = {
    ingestWebhook: (alias, webhook) =>
      Effect.gen(function*() {
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
        // A verified webhook that names its session but cannot be read is that session's to know of.
        const batches = yield* hooks.parse(webhook.body).pipe(
          Effect.tapErrorTag("MalformedWebhook", () =>
            named === undefined
              ? Effect.void
              : timeline.record(named.sessionId, { kind: "event.dropped", reason: "malformed", via: "webhook" }))
        )
        let accepted = 0
        let unknown = 0
        for (const batch of batches) {
          const session = "sessionId" in batch
            ? Option.filter(Option.fromNullable(named), (s) => s.sessionId === batch.sessionId)
            : yield* conversationOfTenants(provider.alias, tenants, batch.conversationId)
          if (Option.isNone(session)) {
            unknown++
            continue
          }
          const events = hooks.forSession !== undefined ? yield* hooks.forSession(session.value, batch) : batch.events
          const result = yield* ingestInto(session.value.sessionId, events, "webhook", undefined, session.value)
          accepted += result.accepted
          unknown += result.unknown
        }
        // Counted, not logged one by one: a webhook names up to a hundred conversations.
        if (unknown > 0) yield* countUnknownConversations(alias, unknown)
        return { accepted, unknown }
      }),

    ingest: (provider, tenantId, conversationId, events, via) =>
      Effect.gen(function*() {
        const found = yield* store.byConversation(provider, tenantId, conversationId)
        if (Option.isNone(found)) {
          yield* Effect.logInfo("event for an unknown conversation", { provider, conversationId })
          return { accepted: 0, unknown: 1 }
        }
        const { accepted, unknown } = yield* ingestInto(found.value.sessionId, events, via, undefined, found.value)
        return { accepted, unknown }
      }),

    ingestPolled: (sessionId, events, providerState) =>
      Effect.map(ingestInto(sessionId, events, "poll", providerState), ({ accepted, open }) => ({ accepted, open }))
  }
  return service
})

export const IngestLive = Layer.effect(Ingest, makeIngest)
