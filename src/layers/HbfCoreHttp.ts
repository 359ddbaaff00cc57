/**
 * hbf-core over HTTP. Tenants and organizations are cached for HBF_CORE_CACHE_SECONDS with
 * single-flight (a burst for one tenant makes one call); failures are never cached.
 */
import { Cache, Duration, Effect, Layer, type ParseResult, Schema } from "effect"
import { decodeTenant, Organization } from "../domain/tenant.js"
import { AppConfig } from "../services/AppConfig.js"
import { TenantNotFound, UpstreamUnavailable } from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { defaultRetryPolicy, type OutboundError, outboundClient } from "./outbound.js"

const decodeJson = Schema.decodeUnknown(Schema.parseJson(Schema.Unknown))

const unavailable = (message: string) => new UpstreamUnavailable({ service: "hbf-core", message: `hbf-core ${message}` })

/** A failed call or an unreadable body, in words safe to log. */
const describe = (error: OutboundError | ParseResult.ParseError) =>
  error._tag === "ParseError" ? `sent an unreadable body: ${error.message}` : error.detail

export const HbfCoreHttp = Layer.effect(
  HbfCore,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const client = yield* outboundClient({
      baseUrl: config.hbfCore.url,
      bearer: config.hbfCore.token,
      retry: defaultRetryPolicy
    })
    const getJson = (path: string) =>
      client.send({ method: "GET", path }).pipe(Effect.flatMap(({ body }) => decodeJson(body)))

    const fetchTenant = (tenantId: string) =>
      getJson(`/tenants/${encodeURIComponent(tenantId)}?includePlugins=true`).pipe(
        Effect.catchAll((error): Effect.Effect<never, TenantNotFound | UpstreamUnavailable> =>
          error._tag !== "ParseError" && error.status === 404
            ? Effect.fail(new TenantNotFound({ tenantId, message: `tenant ${tenantId} does not exist` }))
            : Effect.fail(unavailable(`failed to return tenant ${tenantId}: ${describe(error)}`))
        ),
        Effect.flatMap((json) =>
          Effect.mapError(decodeTenant(json), (e) => unavailable(`returned an invalid tenant ${tenantId}: ${e.message}`))
        )
      )

    const fetchOrganization = (organizationId: string) =>
      getJson(`/organizations/${encodeURIComponent(organizationId)}`).pipe(
        Effect.flatMap(Schema.decodeUnknown(Organization)),
        Effect.mapError((error) => unavailable(`failed to return organization ${organizationId}: ${describe(error)}`))
      )

    const ttl = Duration.seconds(config.hbfCore.cacheSeconds)
    const tenants = yield* Cache.make({ capacity: 10_000, lookup: fetchTenant, timeToLive: ttl })
    const organizations = yield* Cache.make({ capacity: 10_000, lookup: fetchOrganization, timeToLive: ttl })
    // A failure is never kept: the next caller asks hbf-core again.
    const cached =
      <A, E>(cache: Cache.Cache<string, A, E>) =>
      (key: string) =>
        cache.get(key).pipe(Effect.tapError(() => cache.invalidate(key)))

    return HbfCore.of(
      config.hbfCore.cacheSeconds === 0
        ? { tenant: fetchTenant, organization: fetchOrganization }
        : { tenant: cached(tenants), organization: cached(organizations) }
    )
  })
)
