/**
 * A subscriber's livechat request: opened with the tenant's provider, updated or cancelled,
 * terminated.
 */
import { Clock, Effect, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import { mayAccess } from "../domain/access.js"
import { evaluateBusinessHours } from "../domain/businessHours.js"
import type { ProviderEvent, SessionRecord } from "../domain/model.js"
import { metadataOverLimit, toSession } from "../domain/model.js"
import { figuresChanged } from "../domain/queueEstimate.js"
import { applyEvent, cancel, endByGateway, isOpen } from "../domain/stateMachine.js"
import { nowIso } from "../domain/time.js"
import type { EndTrigger } from "../domain/timeline.js"
import { traced } from "../infra/Tracing.js"
import { AppConfig } from "../services/AppConfig.js"
import {
  BadRequest,
  InvalidTransition,
  LivechatUnavailable,
  SessionNotFound,
  SessionOpenElsewhere,
  StoreUnavailable
} from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { LivechatRequests, type LivechatRequestsService } from "../services/LivechatRequests.js"
import { ProviderCallHealth } from "../services/ProviderCallHealth.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { SessionChanges } from "../services/SessionChanges.js"
import { SessionStore } from "../services/SessionStore.js"
import { Timeline } from "../services/Timeline.js"
import { forbiddenTenant, livechatOf, providerFor, visibleSessionOf } from "./lookups.js"
import { assignmentHistory, figuresOf, queuedEvent } from "./queueFigures.js"
import { withEvents } from "./SessionChanges.js"

/**
 * A new request while one is open: the same tenant gets it back (idempotent), another
 * tenant (a platform token's request: a confined one never meets another tenant's) is refused.
 */
const reuseOpen = (open: SessionRecord, tenantId: string) => {
  if (open.tenantId === tenantId) return Effect.succeed({ created: false, session: toSession(open) })
  return Effect.fail(
    new SessionOpenElsewhere({
      subHandle: open.subHandle,
      message: `subscriber ${open.subHandle} has an open livechat with another tenant`
    })
  )
}

/** The calls to the gateway that end a session, as its timeline names them (the routes of src/http/api.ts). */
const createCall: EndTrigger = { by: "call", operation: "POST /requests" }
const cancelCall: EndTrigger = { by: "call", operation: "PATCH /requests/subscribers/:subHandle" }
const terminateCall: EndTrigger = { by: "call", operation: "DELETE /sessions/tenants/:tenantId/subscribers/:subHandle" }

export const makeLivechatRequests = Effect.gen(function*() {
  const config = yield* AppConfig
  const store = yield* SessionStore
  const core = yield* HbfCore
  const changes = yield* SessionChanges
  const health = yield* ProviderCallHealth
  const timeline = yield* Timeline
  const providerOf = providerFor(yield* ProviderRegistry)
  const sessionOf = visibleSessionOf(store)
  const history = assignmentHistory(store)

  const service: LivechatRequestsService = {
    create: Effect.fn("LivechatRequests.create")(function*(request, access) {
      if (!mayAccess(access, request.tenantId)) return yield* forbiddenTenant(request.tenantId)
      // A confined token's livechat is its tenant's alone: other tenants' never hold it, nor it theirs.
      const confined = access !== "all"
      const tenant = yield* core.tenant(request.tenantId)
      const livechat = yield* livechatOf(tenant)
      const provider = yield* providerOf(tenant, livechat)

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
      // An open breaker answers at once rather than wait on the provider's timeouts; a half-open one makes this create its probe.
      if ((yield* health.admit(health.credentialsOf(livechat))) === "refused") {
        return yield* new LivechatUnavailable({
          reason: "provider-unreachable",
          message: `tenant ${tenant.id}'s livechat provider is unreachable; try again later`
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
      yield* timeline.record(record.sessionId, {
        kind: "created",
        provider: provider.alias,
        ...(request.channel !== undefined ? { channel: request.channel } : {}),
        ...(request.queue !== undefined ? { queue: request.queue } : {})
      })

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
              changes.change(record.sessionId, (session) =>
                Effect.map(nowIso, (at) => {
                  const t = endByGateway(session, "error", at)
                  return t._tag === "Apply"
                    ? { change: withEvents(session, t.next, []), result: undefined, endTrigger: createCall }
                    : { result: undefined }
                })).pipe(Effect.ignore)
            )
          ),
          Effect.annotateLogs({ sessionId: record.sessionId, provider: provider.alias }),
          traced("provider.create", {
            captureStackTrace: false,
            attributes: { provider: provider.alias, sessionId: record.sessionId }
          })
        )

      // The first figures of the waiting request, best effort: the request is placed whatever becomes of them.
      const figures = yield* figuresOf(store, history)(record, provider, livechat).pipe(
        Effect.catchAll((e) =>
          Effect.as(
            Effect.logWarning("no queue figures for the new request", {
              sessionId: record.sessionId,
              reason: e.message
            }),
            undefined
          )
        )
      )
      // The figures' time (their event's, and the throttle's start) is now, after the provider's create.
      const figuresAt = yield* nowIso
      const opened = yield* changes.change(record.sessionId, (session) => {
        let next: SessionRecord = {
          ...session,
          providerConversationId: created.conversationId,
          ...(created.providerState !== undefined ? { providerState: created.providerState } : {})
        }
        const applied: Array<ProviderEvent> = []
        const apply = (event: ProviderEvent) => {
          const t = applyEvent(next, event, now)
          if (t._tag === "Apply") {
            next = t.next
            applied.push(t.event)
          }
        }
        for (const event of created.events ?? []) apply(event)
        if (figures !== undefined && next.status === "pending" && figuresChanged(next, figures)) {
          // Figures while pending always apply (stateMachine.ts): they only replace the record's.
          apply(queuedEvent(session, session.lastSeq + applied.length + 1, figures, figuresAt))
          next = { ...next, queueUpdatedAt: figuresAt }
        }
        return Effect.succeed({
          change: { ...withEvents(session, next, applied), seen: applied.map((e) => e.id) },
          result: next
        })
      }).pipe(
        Effect.catchTag(
          "SessionNotFound",
          () =>
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

    update: Effect.fn("LivechatRequests.update")(function*(subHandle, patch, access, tenantId) {
      const open = yield* sessionOf(subHandle, access, tenantId)
      if (!isOpen(open.status)) {
        return yield* new SessionNotFound({ message: `subscriber ${subHandle} has no open session` })
      }
      if (patch.status === "cancelled") {
        const ended = yield* changes.end(open.sessionId, "user", cancel, cancelCall)
        return toSession(ended ?? open)
      }
      const updated = yield* changes.change(open.sessionId, (session) =>
        Effect.gen(function*() {
          if (!isOpen(session.status)) {
            return yield* new InvalidTransition({
              message: `the session has ${session.status}`,
              status: session.status
            })
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
        }))
      const fresh = yield* store.get(open.sessionId)
      return toSession(Option.getOrElse(fresh, () => (updated === "duplicate" ? open : updated)))
    }),

    terminate: Effect.fn("LivechatRequests.terminate")(function*(tenantId, subHandle, access) {
      const open = yield* sessionOf(subHandle, access, tenantId)
      if (!isOpen(open.status)) {
        return yield* new SessionNotFound({
          message: `subscriber ${subHandle} has no open session with tenant ${tenantId}`
        })
      }
      yield* changes.end(open.sessionId, "user", (s, now) => endByGateway(s, "user", now), terminateCall).pipe(
        Effect.catchTag("InvalidTransition", () =>
          Effect.fail(
            new SessionNotFound({ message: `subscriber ${subHandle} has no open session with tenant ${tenantId}` })
          ))
      )
    })
  }
  return service
})

export const LivechatRequestsLive = Layer.effect(LivechatRequests, makeLivechatRequests)
