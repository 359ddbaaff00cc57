import type { Effect } from "effect"
import { Context } from "effect"
import type { Organization, Tenant } from "../domain/tenant.js"
import type { TenantNotFound, UpstreamUnavailable } from "./errors.js"

/** hbf-core look-ups (docs/CONTRACTS.md#hbf-core), cached with a TTL and single-flight. */
export interface HbfCoreService {
  readonly tenant: (tenantId: string) => Effect.Effect<Tenant, TenantNotFound | UpstreamUnavailable>
  readonly organization: (organizationId: string) => Effect.Effect<Organization, UpstreamUnavailable>
}

export class HbfCore extends Context.Tag("hbf-lcg/HbfCore")<HbfCore, HbfCoreService>() {}
