import type { Effect } from "effect"
import { Context } from "effect"
import type { ProviderHealth } from "../domain/model.js"
import type { LivechatConfig } from "../domain/tenant.js"

/**
 * Whether a call may go to a credential's provider now: `call` (the breaker is closed),
 * `probe` (it is half-open and this caller's call is the one probe it lets through), or
 * `refused` (it is open, or its probe is already out).
 */
export type Admission = "call" | "probe" | "refused"

/** The one credential of hbf-lcm, a platform service: every helvia-livechat tenant's calls are made as it. */
export const hbfLcmCredentials = "hbf-lcm"

/**
 * How the calls to each provider credential went, judged by a breaker per credential
 * (docs/ARCHITECTURE.md#provider-health). In-process: each instance judges from its own calls.
 */
export interface ProviderCallHealthService {
  /**
   * Records one exchange with a provider made as `credentials` (a credentialKey): its status,
   * or undefined when no answer came. No answer and a 502, 503 or 504 are failures; any other answer (a 500,
   * 4xx refusal, a 429) proves the provider is there. Synchronous, a Map look-up: it runs on
   * every provider call, the forward path's included.
   */
  readonly record: (credentials: string, status: number | undefined) => void
  /** The credential a tenant's calls to its provider are made as. */
  readonly credentialsOf: (config: LivechatConfig) => string
  /** How the credential's recent calls went. */
  readonly health: (credentials: string) => Effect.Effect<ProviderHealth>
  /** Whether a call may go out now; a `probe` is this caller's to make (its outcome, recorded, decides). */
  readonly admit: (credentials: string) => Effect.Effect<Admission>
}

export class ProviderCallHealth
  extends Context.Tag("hbf-lcg/ProviderCallHealth")<ProviderCallHealth, ProviderCallHealthService>()
{}
