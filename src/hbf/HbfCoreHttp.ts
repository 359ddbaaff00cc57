/**
 * hbf-core over HTTP. Tenants and organizations are cached for HBF_CORE_CACHE_SECONDS with
 * single-flight (a burst for one tenant makes one call); failures are never cached. A tenant's
 * provider URLs are checked against the egress policy as it is loaded (tenantUrls.ts).
 */
import { Cache, Duration, Effect, Layer, type ParseResult, Schema } from "effect"
import { describeIssuesInline } from "../domain/schemaIssues.js"
import { decodeTenant, Organization } from "../domain/tenant.js"
import { defaultRetryPolicy, outboundClient, type OutboundError } from "../infra/outbound.js"
import { AppConfig } from "../services/AppConfig.js"
import { TenantNotFound, UpstreamUnavailable } from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { ProviderEgressGuard } from "../services/ProviderEgressGuard.js"
import { confineTenantUrls } from "./tenantUrls.js"

/** Tenants (and organizations) kept at most. */
const CACHE_CAPACITY = 10_000

const decodeJson = Schema.decodeUnknown(Schema.parseJson(Schema.Unknown))

const unavailable = (message: string) =>
  new UpstreamUnavailable({ service: "hbf-core", message: `hbf-core ${message}` })

/**
 * A failed call or an unreadable body, as answers say it: a transport failure is only
 * "unreachable", its cause (hbf-core's address) going to the log.
 */
const describe = (error: OutboundError | ParseResult.ParseError): Effect.Effect<string> => {
  if (error._tag === "ParseError") return Effect.succeed(`sent an unreadable body (${describeIssuesInline(error)})`)
  if (error.reason !== "transport") return Effect.succeed(error.detail)
  return Effect.as(Effect.logWarning("hbf-core is unreachable", { reason: error.detail }), "is unreachable")
}

export const HbfCoreHttp = Layer.effect(
  HbfCore,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const confined = confineTenantUrls(yield* ProviderEgressGuard)
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
            : Effect.flatMap(
              describe(error),
              (reason) => Effect.fail(unavailable(`failed to return tenant ${tenantId}: ${reason}`))
            )
        ),
        Effect.flatMap((json) =>
          // Named by paths only: the tenant's values (its plugins' secrets among them) stay out of answers and logs.
          Effect.mapError(decodeTenant(json), (e) =>
            unavailable(`returned an invalid tenant ${tenantId}: ${describeIssuesInline(e)}`))
        ),
        Effect.flatMap(confined)
      )

    const fetchOrganization = (organizationId: string) =>
      getJson(`/organizations/${encodeURIComponent(organizationId)}`).pipe(
        Effect.flatMap(Schema.decodeUnknown(Organization)),
        Effect.catchAll((error) =>
          Effect.flatMap(
            describe(error),
            (reason) => Effect.fail(unavailable(`failed to return organization ${organizationId}: ${reason}`))
          )
        )
      )

    const ttlMs = config.hbfCore.cacheSeconds * 1000
    const clock = yield* Effect.clock
    /**
     * A cache of successful look-ups: single-flight through Effect's Cache, plus the loaded
     * values in a plain Map, so that a hit (every webhook, forwarded message and delivery looks
     * its tenant up) is two fiber ops instead of Cache.get's ~9 (clock, map, deferred,
     * tapError). A value is remembered when the Cache loads it and expires with the Cache's own
     * TTL, counted from the same moment; a failure is never kept
     * (perf: docs/ARCHITECTURE.md#perf-tenant-cache).
     */
    const cachedLookup = <A, E>(lookup: (key: string) => Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const loaded = new Map<string, { readonly value: A; readonly expiresAt: number }>()
        const cache = yield* Cache.make({
          capacity: CACHE_CAPACITY,
          timeToLive: Duration.millis(ttlMs),
          lookup: (key: string) =>
            Effect.tap(lookup(key), (value) =>
              Effect.sync(() => {
                if (loaded.size >= CACHE_CAPACITY) loaded.delete(loaded.keys().next().value!)
                loaded.set(key, { value, expiresAt: clock.unsafeCurrentTimeMillis() + ttlMs })
              }))
        })
        return (key: string): Effect.Effect<A, E> =>
          Effect.suspend(() => {
            const hit = loaded.get(key)
            if (hit !== undefined && hit.expiresAt > clock.unsafeCurrentTimeMillis()) return Effect.succeed(hit.value)
            if (hit !== undefined) loaded.delete(key)
            return cache.get(key).pipe(Effect.tapError(() => cache.invalidate(key)))
          })
      })

    return HbfCore.of(
      config.hbfCore.cacheSeconds === 0
        ? { tenant: fetchTenant, organization: fetchOrganization }
        : { tenant: yield* cachedLookup(fetchTenant), organization: yield* cachedLookup(fetchOrganization) }
    )
  })
)
