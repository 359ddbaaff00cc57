/**
 * What the use cases look up on their way, shared by them: a tenant's livechat and provider,
 * a session's provider, the subscriber's session as the caller may see it, and the answers
 * given for what it may not. Those that need a service take it once, where a use case's
 * Layer is built, and give back the look-up.
 */
import { Effect, Either, Option } from "effect"
import { mayAccess, type TenantAccess } from "../domain/access.js"
import type { SessionRecord } from "../domain/model.js"
import type { LivechatConfig, Tenant } from "../domain/tenant.js"
import {
  Forbidden,
  LivechatNotConfigured,
  ProviderError,
  SessionNotFound,
  type StoreUnavailable,
  type TenantNotFound,
  type UpstreamUnavailable
} from "../services/errors.js"
import type { HbfCoreService } from "../services/HbfCore.js"
import type { ProviderRegistryService } from "../services/ProviderRegistry.js"
import type { SessionStoreService } from "../services/SessionStore.js"

/** The session of `found` with the greatest `key`: the newest, or an open one before an ended one. */
export const foremost = (found: ReadonlyArray<Option.Option<SessionRecord>>, key: (session: SessionRecord) => string) =>
  Option.fromNullable(
    found.flatMap(Option.toArray).reduce<SessionRecord | undefined>(
      (best, s) => (best === undefined || key(s) > key(best) ? s : best),
      undefined
    )
  )

/** What a caller is told about another tenant: the same as about one that does not exist, or nothing it may touch. */
export const forbiddenTenant = (tenantId: string) =>
  new Forbidden({ message: `this token cannot act in tenant ${tenantId}` })

export const noSessionOf = (subHandle: string, tenantId?: string) =>
  new SessionNotFound({
    message: tenantId === undefined
      ? `subscriber ${subHandle} has no session`
      : `subscriber ${subHandle} has no session with tenant ${tenantId}`
  })

export const livechatOf = (tenant: Tenant) =>
  Either.match(tenant.livechat, {
    onLeft: (why) =>
      Effect.fail(new LivechatNotConfigured({ tenantId: tenant.id, message: `tenant ${tenant.id}: ${why}` })),
    onRight: (livechat) => Effect.succeed(livechat)
  })

/** The provider of a tenant's livechat. */
export const providerFor = (registry: ProviderRegistryService) => (tenant: Tenant, livechat: LivechatConfig) =>
  registry
    .get(livechat.provider)
    .pipe(
      Effect.mapError((e) =>
        new LivechatNotConfigured({ tenantId: tenant.id, message: `tenant ${tenant.id}: ${e.message}` })
      )
    )

/** The provider a session runs on, with the tenant's livechat config as hbf-core has it now. */
export const providerOfSession = (core: HbfCoreService, registry: ProviderRegistryService) => {
  const providerOf = providerFor(registry)
  return (session: SessionRecord) =>
    Effect.gen(function*() {
      const tenant = yield* core.tenant(session.tenantId)
      const livechat = yield* livechatOf(tenant)
      const provider = yield* providerOf(tenant, livechat)
      return { provider, context: { session, config: livechat } }
    })
}

/** A failure on the way to the provider (hbf-core, a tenant without config) is the provider call's failure. */
export const asProviderError =
  (session: SessionRecord) =>
  (e: ProviderError | TenantNotFound | UpstreamUnavailable | LivechatNotConfigured): ProviderError =>
    e._tag === "ProviderError" ? e : new ProviderError({ provider: session.provider, message: e.message })

/**
 * The subscriber's latest session as the caller sees it: in `tenantId` when the route names
 * one; else a platform token's latest session of the subscriber, or the latest of a confined
 * token's tenants'. Each is read from its own index, so what another tenant does with the
 * subscriber never shows (docs/SECURITY.md).
 */
export const latestVisible = (store: SessionStoreService) =>
(
  subHandle: string,
  access: TenantAccess,
  tenantId?: string
): Effect.Effect<Option.Option<SessionRecord>, StoreUnavailable> => {
  if (tenantId !== undefined) {
    return mayAccess(access, tenantId)
      ? store.latestBySubscriber(subHandle, tenantId)
      : Effect.succeedNone
  }
  if (access === "all") return store.latestBySubscriber(subHandle)
  return Effect.map(
    Effect.forEach(access, (own) => store.latestBySubscriber(subHandle, own)),
    (found) => foremost(found, (s) => s.createdAt)
  )
}

/** The subscriber's latest session as the caller sees it (`latestVisible`); SessionNotFound when there is none. */
export const visibleSessionOf = (store: SessionStoreService) => {
  const latest = latestVisible(store)
  return (subHandle: string, access: TenantAccess, tenantId?: string) =>
    Effect.flatMap(
      latest(subHandle, access, tenantId),
      (found) =>
        Option.match(found, { onNone: () => Effect.fail(noSessionOf(subHandle, tenantId)), onSome: Effect.succeed })
    )
}
