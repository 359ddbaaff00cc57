/**
 * The provider URLs a tenant configures, checked against the egress policy where the tenant
 * enters the gateway (hbf-core's tenants are cached, so a name is resolved once per load).
 */
import { Effect, Either } from "effect"
import type { LivechatConfig, Tenant } from "../domain/tenant.js"
import type { ProviderEgressGuardService } from "../services/ProviderEgressGuard.js"

/**
 * The URLs the tenant's livechat config makes the gateway call, by the field that holds each.
 * Genesys' region hosts are not the tenant's to choose: only its overrides are listed.
 */
const configuredUrlsOf = (config: LivechatConfig): ReadonlyArray<readonly [field: string, url: string | undefined]> => {
  switch (config.provider) {
    case "genesys-livechat":
      return [
        ["genesys.apiBaseUrl", config.genesys.apiBaseUrl],
        ["genesys.loginBaseUrl", config.genesys.loginBaseUrl]
      ]
    case "cisco-livechat":
      return [["cisco.baseUrl", config.cisco.baseUrl]]
    case "zendesk":
      return [["zendesk.apiBaseUrl", config.zendesk.apiBaseUrl]]
    case "helvia-livechat":
      return []
  }
}

/**
 * The tenant, with its livechat "not configured" when the policy refuses one of its URLs:
 * every use case then answers as for any other unusable config. The reason names the field,
 * never the URL or its address.
 */
export const confineTenantUrls = (guard: ProviderEgressGuardService) => (tenant: Tenant): Effect.Effect<Tenant> =>
  Either.match(tenant.livechat, {
    onLeft: () => Effect.succeed(tenant),
    onRight: (config) =>
      Effect.forEach(
        configuredUrlsOf(config),
        ([field, url]) => (url === undefined
          ? Effect.void
          : Effect.mapError(guard.checkUrl(url, "api"), (refused) => `${field}: ${refused.message}`)),
        { discard: true }
      ).pipe(
        Effect.as(tenant),
        Effect.catchAll((why) =>
          Effect.as(
            Effect.logWarning("a provider URL of the tenant is refused; its livechat counts as not configured", {
              tenantId: tenant.id,
              reason: why
            }),
            { ...tenant, livechat: Either.left(why) }
          )
        )
      )
  })
