/**
 * Which tenants a caller may act in. A platform token (hbf-bot's) carries no `tenants` claim
 * and acts in every tenant; a token with `tenants` acts only inside those, and another
 * tenant's sessions are, to it, sessions that do not exist (docs/SECURITY.md).
 */
export type TenantAccess = "all" | ReadonlySet<string>

export const everyTenant: TenantAccess = "all"

export const mayAccess = (access: TenantAccess, tenantId: string): boolean => access === "all" || access.has(tenantId)
