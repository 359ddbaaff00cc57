/**
 * hbf-core simulator (docs/CONTRACTS.md#hbf-core): tenants and organizations behind a bearer
 * token, on a loopback port that lives as long as the Scope.
 *
 *   GET /tenants/{tenantId}[?includePlugins=true]   200 tenant JSON (`plugins` only with includePlugins=true)
 *   GET /organizations/{organizationId}              200 organization JSON
 *   401 { error, message } bad/missing token; 404 { error, message } unknown id.
 */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import { handle, json, reject } from "./http/answers.js"
import { param, requireBearer, searchParams } from "./http/requests.js"
import { type FailureScript, makeFailureScript } from "./http/scripts.js"
import { serveRouter } from "./http/serve.js"

/** A tenant as hbf-core returns it (docs/CONTRACTS.md#hbf-core); only `id` is required here. */
export interface TenantJson {
  readonly id: string
  readonly [field: string]: unknown
}

export interface OrganizationJson {
  readonly id: string
  readonly displayName: string
  readonly timezone?: string
  readonly [field: string]: unknown
}

export interface HbfCoreSimOptions {
  readonly token: string
  /** Tenant JSON as in docs/CONTRACTS.md#hbf-core (each must have a string `id`). */
  readonly tenants: ReadonlyArray<unknown>
  readonly organizations: ReadonlyArray<OrganizationJson>
}

export interface HbfCoreSim {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string
  /** Adds or replaces a tenant (by `id`). */
  readonly setTenant: (tenant: TenantJson) => void
  readonly removeTenant: (id: string) => void
  readonly setOrganization: (organization: OrganizationJson) => void
  readonly removeOrganization: (id: string) => void
  /** How many `GET /tenants/{id}` requests arrived for this id, whatever they were answered. */
  readonly tenantCalls: (id: string) => number
  /** How many `GET /organizations/{id}` requests arrived for this id. */
  readonly organizationCalls: (id: string) => number
  /** The next `n` requests (any route) answer `status` with a JSON error body (and `Retry-After` when given). */
  readonly failNext: FailureScript["failNext"]
}

const isTenantJson = (value: unknown): value is TenantJson =>
  typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string"

export const makeHbfCoreSim = (options: HbfCoreSimOptions): Effect.Effect<HbfCoreSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tenants = new Map<string, TenantJson>()
    for (const tenant of options.tenants) {
      if (!isTenantJson(tenant)) {
        return yield* Effect.dieMessage(`hbf-core simulator: a tenant has no string "id": ${JSON.stringify(tenant)}`)
      }
      tenants.set(tenant.id, tenant)
    }
    const organizations = new Map(options.organizations.map((o) => [o.id, o] as const))
    const tenantCalls = new Map<string, number>()
    const organizationCalls = new Map<string, number>()
    const failures = makeFailureScript("hbf-core")
    const count = (calls: Map<string, number>, id: string) => calls.set(id, (calls.get(id) ?? 0) + 1)

    const router = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/tenants/:tenantId",
        handle(
          Effect.gen(function*() {
            const id = yield* param("tenantId")
            count(tenantCalls, id)
            yield* failures.take()
            yield* requireBearer(options.token)
            const tenant = tenants.get(id)
            if (tenant === undefined) return yield* reject(404, "NotFound", `Tenant ${id} not found`)
            const includePlugins = (yield* searchParams).get("includePlugins") === "true"
            if (includePlugins) return json(200, tenant)
            const { plugins: _plugins, ...withoutPlugins } = tenant
            return json(200, withoutPlugins)
          })
        )
      ),
      HttpRouter.get(
        "/organizations/:organizationId",
        handle(
          Effect.gen(function*() {
            const id = yield* param("organizationId")
            count(organizationCalls, id)
            yield* failures.take()
            yield* requireBearer(options.token)
            const organization = organizations.get(id)
            if (organization === undefined) return yield* reject(404, "NotFound", `Organization ${id} not found`)
            return json(200, organization)
          })
        )
      )
    )

    const baseUrl = yield* serveRouter("hbf-core simulator", router)
    return {
      baseUrl,
      setTenant: (tenant) => void tenants.set(tenant.id, tenant),
      removeTenant: (id) => void tenants.delete(id),
      setOrganization: (organization) => void organizations.set(organization.id, organization),
      removeOrganization: (id) => void organizations.delete(id),
      tenantCalls: (id) => tenantCalls.get(id) ?? 0,
      organizationCalls: (id) => organizationCalls.get(id) ?? 0,
      failNext: failures.failNext
    }
  })
