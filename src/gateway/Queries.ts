/** What the routes read: counts, waiting metrics, a subscriber's livechat state, a tenant's availability. */
import { Clock, Effect, Either, Layer, Option } from "effect"
import { mayAccess } from "../domain/access.js"
import { evaluateBusinessHours } from "../domain/businessHours.js"
import { type Availability, toSession } from "../domain/model.js"
import { estimateWait } from "../domain/queueEstimate.js"
import type { LivechatConfig } from "../domain/tenant.js"
import { HbfCore } from "../services/HbfCore.js"
import type { LivechatProvider, ProviderAvailability } from "../services/LivechatProvider.js"
import { type Admission, ProviderCallHealth } from "../services/ProviderCallHealth.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { Queries, type QueriesService } from "../services/Queries.js"
import { SessionStore } from "../services/SessionStore.js"
import { forbiddenTenant, latestVisible, livechatOf, providerFor } from "./lookups.js"
import { recentWaiting } from "./queueFigures.js"

/**
 * The figures of an availability and where each came from: the provider's, and where it tells
 * no wait, the gateway's estimate for a request made now (`gateway`).
 */
const figuresOf = (provider: ProviderAvailability, gateway: number | undefined) => {
  const wait = provider.estimatedWaitSeconds ?? gateway
  const sources = {
    ...(provider.agentsOnline !== undefined ? { agentsOnline: "provider" as const } : {}),
    ...(wait !== undefined
      ? { estimatedWaitSeconds: provider.estimatedWaitSeconds !== undefined ? "provider" as const : "gateway" as const }
      : {})
  }
  return {
    ...(provider.agentsOnline !== undefined ? { agentsOnline: provider.agentsOnline } : {}),
    ...(wait !== undefined ? { estimatedWaitSeconds: wait } : {}),
    ...(Object.keys(sources).length > 0 ? { sources } : {})
  }
}

export const makeQueries = Effect.gen(function*() {
  const store = yield* SessionStore
  const core = yield* HbfCore
  const health = yield* ProviderCallHealth
  const providerOf = providerFor(yield* ProviderRegistry)
  const latestOf = latestVisible(store)

  /**
   * What the provider tells of its agents, asked only while its credential's breaker lets calls
   * through (none while it is open). A probe the breaker lets through is made here too: the
   * availability call where the provider has one, else its probe, so that the verdict recovers
   * without user traffic. A probe's outcome shows in the verdict, not here.
   */
  const askProvider = (provider: LivechatProvider, livechat: LivechatConfig, admission: Admission) => {
    if (admission === "refused") return Effect.succeed(Either.right<ProviderAvailability>({}))
    if (provider.availability !== undefined) return Effect.either(provider.availability(livechat))
    if (admission === "probe" && provider.probe !== undefined) {
      return Effect.as(Effect.ignore(provider.probe(livechat)), Either.right<ProviderAvailability>({}))
    }
    return Effect.succeed(Either.right<ProviderAvailability>({}))
  }

  /**
   * Where the provider tells no wait: the gateway's estimate (docs/ARCHITECTURE.md#queue-figures)
   * for a request made now, behind every request of the tenant waiting; none on too little
   * history, or when the store does not answer (availability answers without it).
   */
  const gatewayEstimate = (tenantId: string, provider: ProviderAvailability) =>
    provider.estimatedWaitSeconds !== undefined
      ? Effect.succeed(undefined)
      : recentWaiting(store, tenantId).pipe(
        Effect.map(({ history, pending }) => estimateWait(pending + 1, history, 0)),
        Effect.orElseSucceed(() => undefined)
      )

  const service: QueriesService = {
    count: (organizationId, status, access) =>
      store.count(organizationId, status, access === "all" ? undefined : [...access]),

    waitingMetrics: Effect.fn("Queries.waitingMetrics")(function*(tenantId, windowSeconds, access) {
      if (!mayAccess(access, tenantId)) return yield* forbiddenTenant(tenantId)
      const now = yield* Clock.currentTimeMillis
      const stats = yield* store.waitingStats(tenantId, now - windowSeconds * 1000)
      return { averageWaitingSeconds: Math.round(stats.averageSeconds), waitingCount: stats.pending }
    }),

    state: (subHandle, access, tenantId) =>
      Effect.map(latestOf(subHandle, access, tenantId), (latest) =>
        Option.match(latest, {
          onNone: () => ({ subHandle, state: "none" as const }),
          onSome: (s) => ({ subHandle, state: s.status, session: toSession(s) })
        })),

    availability: Effect.fn("Queries.availability")(function*(tenantId, access) {
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
      const provider = yield* Effect.either(providerOf(tenant, livechat))
      if (Either.isLeft(provider)) {
        return { tenantId, available: false, reason: "not-configured", businessHours } satisfies Availability
      }
      const credentials = health.credentialsOf(livechat)
      const agents = yield* askProvider(provider.right, livechat, yield* health.admit(credentials))
      const verdict = yield* health.health(credentials)
      if (verdict === "unreachable" || Either.isLeft(agents)) {
        return {
          tenantId,
          available: false,
          reason: "provider-unreachable",
          businessHours,
          health: verdict
        } satisfies Availability
      }
      const known = {
        ...figuresOf(agents.right, yield* gatewayEstimate(tenantId, agents.right)),
        ...(agents.right.followedBy !== undefined ? { followedBy: agents.right.followedBy } : {})
      }
      const reason = !hours.openNow
        ? "outside-business-hours"
        : agents.right.agentsOnline === 0
        ? "no-agents"
        : undefined
      return {
        tenantId,
        available: reason === undefined,
        ...(reason !== undefined ? { reason } : {}),
        businessHours,
        health: verdict,
        ...known
      } satisfies Availability
    }),

    capabilities: Effect.fn("Queries.capabilities")(function*(tenantId, access) {
      if (!mayAccess(access, tenantId)) return yield* forbiddenTenant(tenantId)
      const tenant = yield* core.tenant(tenantId)
      const provider = yield* providerOf(tenant, yield* livechatOf(tenant))
      return provider.capabilities
    })
  }
  return service
})

export const QueriesLive = Layer.effect(Queries, makeQueries)
