import type { Effect } from "effect"
import { Context } from "effect"
import type { TenantAccess } from "../domain/access.js"
import type { Availability, Capabilities, LivechatState } from "../domain/model.js"
import type {
  Forbidden,
  LivechatNotConfigured,
  StoreUnavailable,
  TenantNotFound,
  UpstreamUnavailable
} from "./errors.js"
import type { StatusFilter } from "./SessionStore.js"

export interface WaitingMetrics {
  /** Whole seconds. */
  readonly averageWaitingSeconds: number
  readonly waitingCount: number
}

/**
 * What the routes read: counts, waiting metrics, a subscriber's state, a tenant's
 * availability. Within the caller's `access` (docs/SECURITY.md): another tenant's session is
 * one that does not exist, and another tenant's configuration is Forbidden.
 */
export interface QueriesService {
  /** Sessions of the organization (of the caller's tenants in it). */
  readonly count: (
    organizationId: string,
    status: StatusFilter,
    access: TenantAccess
  ) => Effect.Effect<number, StoreUnavailable>
  readonly waitingMetrics: (
    tenantId: string,
    windowSeconds: number,
    access: TenantAccess
  ) => Effect.Effect<WaitingMetrics, Forbidden | StoreUnavailable>
  /** The subscriber's latest livechat (in `tenantId` when given). */
  readonly state: (
    subHandle: string,
    access: TenantAccess,
    tenantId?: string
  ) => Effect.Effect<LivechatState, StoreUnavailable>
  readonly availability: (
    tenantId: string,
    access: TenantAccess
  ) => Effect.Effect<Availability, Forbidden | TenantNotFound | UpstreamUnavailable>
  /** What the tenant's provider carries; a tenant without a usable livechat config has no provider to ask: LivechatNotConfigured. */
  readonly capabilities: (
    tenantId: string,
    access: TenantAccess
  ) => Effect.Effect<Capabilities, Forbidden | TenantNotFound | UpstreamUnavailable | LivechatNotConfigured>
}

export class Queries extends Context.Tag("hbf-lcg/Queries")<Queries, QueriesService>() {}
