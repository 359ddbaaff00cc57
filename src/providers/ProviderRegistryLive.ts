/** The providers by alias (the aliases of ProviderAlias, docs/CONTRACTS.md#upstream-api). */
import { Effect, Layer } from "effect"
import { type Capabilities, type ProviderAlias, providerAliases } from "../domain/model.js"
import { cut, MAX_QUOTED } from "../domain/schemaIssues.js"
import { UnknownProvider } from "../services/errors.js"
import type { LivechatProvider } from "../services/LivechatProvider.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { Timeline } from "../services/Timeline.js"
import { ciscoCapabilities, makeCiscoProvider } from "./cisco/provider.js"
import { genesysCapabilities, makeGenesysProvider } from "./genesys/provider.js"
import { helviaCapabilities, makeHelviaProvider } from "./helvia/provider.js"
import { makeZendeskProvider, zendeskCapabilities } from "./zendesk/provider.js"

export const makeProviderRegistry = (providers: ReadonlyArray<LivechatProvider>) => {
  const byAlias = new Map<string, LivechatProvider>(providers.map((p) => [p.alias, p]))
  return ProviderRegistry.of({
    aliases: providers.map((p) => p.alias),
    get: (alias) => {
      const provider = byAlias.get(alias)
      if (provider !== undefined) return Effect.succeed(provider)
      // The alias is the sender's (any URL): named cut, never quoted in full.
      const named = cut(alias, MAX_QUOTED)
      return Effect.fail(
        new UnknownProvider({
          alias: named,
          message: `unknown provider alias ${JSON.stringify(named)}; expected one of ${providerAliases.join(", ")}`
        })
      )
    }
  })
}

/**
 * The adapter with its calls for a session (create, messages, typing, read receipts, end) run
 * in that session's timeline scope (`Timeline.within`): for a provider whose clients record
 * their calls in the scope of the fiber they run in (`recordCallInScope`: the shared
 * Genesys/Sunshine call, the CCP client), not knowing the session themselves.
 */
export const callsInSessionTimeline = <A extends ProviderAlias, E, R>(
  make: Effect.Effect<LivechatProvider<A>, E, R>
): Effect.Effect<LivechatProvider<A>, E, R | Timeline> =>
  Effect.map(Effect.all([make, Timeline]), ([provider, timeline]): LivechatProvider<A> => {
    const { end, sendMessage, sendRead, sendTyping } = provider
    return {
      ...provider,
      create: (context) => timeline.within(context.session.sessionId)(provider.create(context)),
      sendMessage: (context, message) => timeline.within(context.session.sessionId)(sendMessage(context, message)),
      end: (context, reason) => timeline.within(context.session.sessionId)(end(context, reason)),
      ...(sendTyping !== undefined
        ? { sendTyping: (context) => timeline.within(context.session.sessionId)(sendTyping(context)) }
        : {}),
      ...(sendRead !== undefined
        ? { sendRead: (context, upTo) => timeline.within(context.session.sessionId)(sendRead(context, upTo)) }
        : {})
    }
  })

/**
 * Every provider's adapter, registered once by its alias: the compiler checks that each alias
 * of `ProviderAlias` has one, and that the adapter is that alias's. hbf-lcm's client records
 * each call in the timeline of the session it names (src/hbf/HbfLcmHttp.ts): helvia's calls
 * need no scope, and the forward path, whose every fiber op shows in its throughput, pays none
 * (perf: docs/ARCHITECTURE.md#perf-timeline).
 */
const adapters = {
  "helvia-livechat": makeHelviaProvider,
  "genesys-livechat": callsInSessionTimeline(makeGenesysProvider),
  "cisco-livechat": callsInSessionTimeline(makeCiscoProvider),
  zendesk: callsInSessionTimeline(makeZendeskProvider)
} satisfies { readonly [A in ProviderAlias]: Effect.Effect<LivechatProvider<A>, never, unknown> }

/** Every provider's capabilities, as its adapter declares them, without building the adapters (README's table is rendered from them). */
export const providerCapabilities = {
  "helvia-livechat": helviaCapabilities,
  "genesys-livechat": genesysCapabilities,
  "cisco-livechat": ciscoCapabilities,
  zendesk: zendeskCapabilities
} satisfies { readonly [A in ProviderAlias]: Capabilities & { readonly provider: A } }

export const ProviderRegistryLive = Layer.effect(
  ProviderRegistry,
  Effect.map(Effect.all(adapters), (byAlias) => makeProviderRegistry(Object.values(byAlias)))
)
