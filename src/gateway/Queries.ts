/** What the routes read: counts, waiting metrics, a subscriber's livechat state, a tenant's availability. */
import { Clock, Effect, Either, Layer, Option } from "effect"
import { mayAccess } from "../domain/access.js"
import { evaluateBusinessHours } from "../domain/businessHours.js"
import { type Availability, toSession } from "../domain/model.js"
import { HbfCore } from "../services/HbfCore.js"
import type { ProviderAvailability } from "../services/LivechatProvider.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { Queries, type QueriesService } from "../services/Queries.js"
import { SessionStore } from "../services/SessionStore.js"
import { forbiddenTenant, latestVisible, livechatOf, providerFor } from "./lookups.js"

export const makeQueries = Effect.gen(function*() {
  const store = yield* SessionStore
  const core = yield* HbfCore
  const providerOf = providerFor(yield* ProviderRegistry)
  const latestOf = latestVisible(store)

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
          : {}),
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
