/**
 * The simulated platform around one gateway: hbf-core with tenants, hbf-lcm with a
 * scriptable agent, hbf-bot and event-publisher, all real HTTP servers on loopback, and
 * the gateway's AppConfig pointing at them. Used by `npm start` without configuration and
 * by the end-to-end tests.
 */
import { Duration, Effect, Redacted, type Scope } from "effect"
import { createServer } from "node:net"
import { type AppConfigValues, makeAppConfig } from "../src/services/AppConfig.js"
import { type CiscoSimOptions, makeCiscoSim } from "./cisco/index.js"
import {
  demoCisco,
  demoGenesys,
  demoOrganization,
  type DemoProviderUrls,
  demoTenants,
  demoZendesk
} from "./demoTenants.js"
import { makeEventPublisherSim } from "./eventPublisherSim.js"
import { type GenesysSimOptions, makeGenesysSim } from "./genesys/index.js"
import { makeHbfBotSim } from "./hbfBotSim.js"
import { makeHbfCoreSim, type TenantJson } from "./hbfCoreSim.js"
import { makeHbfLcmSim } from "./hbfLcm/index.js"
import { makeZendeskSim, type ZendeskSimOptions } from "./zendesk/index.js"

export interface SandboxOptions {
  /** The gateway's port; 0 = pick a free one. */
  readonly port?: number
  readonly jwtSecret?: string
  /** Tenants instead of the demo ones; given the simulated providers' URLs. */
  readonly tenants?: (urls: DemoProviderUrls) => ReadonlyArray<TenantJson>
  /** Overrides of the Genesys simulator's settings (credentials, integrations, timings). */
  readonly genesys?: Partial<GenesysSimOptions>
  /** Overrides of the Cisco CCP simulator's settings. */
  readonly cisco?: Partial<CiscoSimOptions>
  /** Overrides of the Sunshine Conversations simulator's settings. */
  readonly zendesk?: Partial<ZendeskSimOptions>
  /** hbf-bot then requires X-LCG-Signature, and the gateway signs with it. */
  readonly botSigningSecret?: string
  readonly configure?: (config: AppConfigValues) => AppConfigValues
}

/**
 * A free TCP port (the gateway must know its own URL before it listens). Taken below the
 * kernel's ephemeral range (32768 and up): a port that `listen(0)` handed out, once closed,
 * could be taken as the local port of any outgoing connection before the gateway listened
 * on it (a test saw EADDRINUSE). Checked by listening on every address, as the gateway does.
 */
export const freePort: Effect.Effect<number> = Effect.suspend(() => {
  const port = 20_000 + Math.floor(Math.random() * 12_000)
  return Effect.async<boolean>((resume) => {
    const server = createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, () => server.close(() => resume(Effect.succeed(true))))
  }).pipe(Effect.flatMap((free) => (free ? Effect.succeed(port) : freePort)))
})

const helviaSecretOf = (tenant: TenantJson): string | undefined => {
  const plugins = Array.isArray(tenant["plugins"]) ? (tenant["plugins"] as ReadonlyArray<Record<string, unknown>>) : []
  for (const p of plugins) {
    const helvia = (p["integration"] as { helvia?: { webhookSecret?: unknown } } | undefined)?.helvia
    if (typeof helvia?.webhookSecret === "string") return helvia.webhookSecret
  }
  return undefined
}

export const makeSandbox = (options: SandboxOptions = {}) =>
  Effect.gen(function*() {
    const coreToken = "sandbox-core-token"
    const lcmToken = "sandbox-lcm-token"
    const port = options.port !== undefined && options.port !== 0 ? options.port : yield* freePort
    const publicUrl = `http://127.0.0.1:${port}`
    const genesys = yield* makeGenesysSim({
      clients: [{ clientId: demoGenesys.clientId, clientSecret: demoGenesys.clientSecret }],
      integrations: [
        {
          integrationId: demoGenesys.integrationId,
          webhookUrl: `${publicUrl}/events/genesys-livechat`,
          webhookSecret: demoGenesys.webhookSecret
        }
      ],
      queues: [{ queueId: demoGenesys.queueId, estimatedWaitSeconds: 45, agentsOnQueue: 3 }],
      ...options.genesys
    })
    const cisco = yield* makeCiscoSim({ feeds: [demoCisco.feedId], ...options.cisco })
    const zendesk = yield* makeZendeskSim({
      ...demoZendesk,
      webhookUrl: `${publicUrl}/events/zendesk`,
      ...options.zendesk
    })
    const tenants = new Map<string, TenantJson>()
    const urls = { genesys: genesys.baseUrl, cisco: cisco.baseUrl, zendesk: zendesk.baseUrl }
    for (const t of options.tenants?.(urls) ?? demoTenants(urls)) tenants.set(t.id, t)

    const core = yield* makeHbfCoreSim({
      token: coreToken,
      tenants: [...tenants.values()],
      organizations: [demoOrganization]
    })
    const lcm = yield* makeHbfLcmSim({
      token: lcmToken,
      webhookSecretFor: (tenantId) => {
        const tenant = tenants.get(tenantId)
        return tenant === undefined ? undefined : helviaSecretOf(tenant)
      }
    })
    const bot = yield* makeHbfBotSim(
      options.botSigningSecret !== undefined ? { signingSecret: options.botSigningSecret } : {}
    )
    const publisher = yield* makeEventPublisherSim({ token: coreToken })

    const jwtSecret = options.jwtSecret ?? "sandbox-jwt-secret-change-me-in-production"
    const base = makeAppConfig({
      port,
      publicUrl,
      jwt: { secret: Redacted.make(jwtSecret) },
      hbfCore: { url: core.baseUrl, token: Redacted.make(coreToken) },
      hbfLcm: { url: lcm.baseUrl, token: Redacted.make(lcmToken) },
      hbfBot: {
        url: bot.baseUrl,
        ...(options.botSigningSecret !== undefined ? { signingSecret: Redacted.make(options.botSigningSecret) } : {})
      },
      eventPublisherUrl: publisher.baseUrl,
      // The simulated providers listen on loopback, over plain HTTP.
      providerEgress: { allowInsecure: true, allowPrivate: true, hosts: [] },
      instanceId: `sandbox-${process.pid}`,
      logFormat: "pretty",
      // Nobody balances load in front of the sandbox: it stops at once.
      shutdownDrain: Duration.zero
    })
    return {
      config: options.configure ? options.configure(base) : base,
      jwtSecret,
      core,
      lcm,
      genesys,
      cisco,
      zendesk,
      bot,
      publisher,
      /** Adds or replaces a tenant at hbf-core (and its webhook secret at hbf-lcm). */
      setTenant: (tenant: TenantJson) => {
        tenants.set(tenant.id, tenant)
        core.setTenant(tenant)
      }
    }
  })

export type Sandbox = Effect.Effect.Success<ReturnType<typeof makeSandbox>>
export type SandboxScope = Scope.Scope
