import type { Effect } from "effect"
import { Context } from "effect"
import type { ProviderAlias } from "../domain/model.js"
import type { UnknownProvider } from "./errors.js"
import type { LivechatProvider } from "./LivechatProvider.js"

/** alias -> provider; any other alias is UnknownProvider (docs/CONTRACTS.md#provider-webhooks). */
export interface ProviderRegistryService {
  readonly get: (alias: string) => Effect.Effect<LivechatProvider, UnknownProvider>
  readonly aliases: ReadonlyArray<ProviderAlias>
}

export class ProviderRegistry
  extends Context.Tag("hbf-lcg/ProviderRegistry")<ProviderRegistry, ProviderRegistryService>()
{}
