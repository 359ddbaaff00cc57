import type { Effect } from "effect"
import { Context, Data } from "effect"
import type { LookupFunction } from "node:net"
import type { buildConnector } from "undici"

/**
 * A provider URL, or a connection, that AppConfig's `providerEgress` does not allow. The
 * message says why and never names the URL or the address: it reaches the gateway's callers.
 */
export class EgressRefused extends Data.TaggedError("EgressRefused")<{ readonly message: string }> {}

/** What a provider URL is for: an API (https) or the notifications socket (wss). */
export type ProviderUrlKind = "api" | "socket"

/**
 * Where provider calls may go. Provider URLs are tenant configuration: unconfined, a tenant
 * could point the gateway (and the credentials it sends) at the gateway's own network.
 */
export interface ProviderEgressGuardService {
  /** Refuses a URL whose scheme, credentials, or any address its host resolves to now, the policy does not allow. */
  readonly checkUrl: (url: string, kind: ProviderUrlKind) => Effect.Effect<void, EgressRefused>
  /**
   * An undici connector that refuses at connect time what the policy does not allow: the
   * addresses checked are the ones connected to, so a name re-pointed after `checkUrl`
   * (DNS rebinding) is refused too.
   */
  readonly connector: (options: { readonly timeout: number }) => buildConnector.connector
  /** A DNS lookup that refuses names resolving where the policy does not allow (IP literals are never looked up: `checkUrl` them). */
  readonly lookup: LookupFunction
}

export class ProviderEgressGuard
  extends Context.Tag("hbf-lcg/ProviderEgressGuard")<ProviderEgressGuard, ProviderEgressGuardService>()
{}
