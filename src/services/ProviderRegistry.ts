import type { Effect } from "effect"
import { Context } from "effect"
import type { ProviderAlias } from "../domain/model.js"
import type { UnknownProvider } from "./errors.js"
import type { LivechatProvider } from "./LivechatProvider.js"

/** alias -> provider. Aliases of CONTRACTS.md whose adapter is not built yet are unknown here. */
export interface ProviderRegistryService {
  readonly get: (alias: string) => Effect.Effect<LivechatProvider, UnknownProvider>
  readonly aliases: ReadonlyArray<ProviderAlias>
}

export class ProviderRegistry extends Context.Tag("hbf-lcg/ProviderRegistry")<ProviderRegistry, ProviderRegistryService>() {}
