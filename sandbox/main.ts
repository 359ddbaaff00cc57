/** `npm start` without configuration: the simulators, the gateway on PORT (3000), and a walkthrough per provider (sandbox/walkthrough.ts). */
import { HttpServerError } from "@effect/platform"
import { Config, Console, Effect, Layer, LogLevel } from "effect"
import { GatewayServerLive } from "../src/app/App.js"
import { describeConfigError, InvalidConfiguration } from "../src/app/AppConfigLive.js"
import { LoggingLive } from "../src/infra/Logging.js"
import { TracingLive } from "../src/infra/Tracing.js"
import { makeSandbox } from "./environment.js"
import { signToken } from "./token.js"
import {
  defaultWalkthroughSettings,
  renderVariables,
  renderWalkthroughs,
  type WalkthroughVariables
} from "./walkthrough.js"

/**
 * The gateway's own variables (every one AppConfigLive reads but PORT, LOG_LEVEL and
 * LOG_FORMAT, which the sandbox honours too): with any of them set, `npm start` runs that
 * configuration, as the production entry does, instead of the sandbox.
 */
export const gatewayVariables = [
  "LCG_PUBLIC_URL",
  "LCG_JWT_SECRET",
  "LCG_JWKS_URL",
  "LCG_JWT_AUDIENCE",
  "LCG_JWT_ISSUER",
  "HBF_CORE_URL",
  "HBF_CORE_API_TOKEN",
  "HBF_CORE_CACHE_SECONDS",
  "HBF_LCM_URL",
  "HBF_LCM_TOKEN",
  "HBF_BOT_URL",
  "HBF_BOT_SIGNING",
  "HBF_BOT_SIGNING_SECRET",
  "HBF_EVENT_PUBLISHER_URL",
  "LCG_PROVIDER_ALLOW_INSECURE",
  "LCG_PROVIDER_ALLOW_PRIVATE",
  "LCG_PROVIDER_HOSTS",
  "REDIS_URL",
  "LCG_STORE",
  "LCG_REDIS_PREFIX",
  "LCG_INSTANCE_ID",
  "LCG_PARTITIONS",
  "LCG_DELIVERY_MAX_ATTEMPTS",
  "LCG_QUEUE_UPDATE_SECONDS",
  "LCG_TIMELINE_ENTRIES",
  "LCG_SESSION_RETENTION_DAYS",
  "LCG_DEDUP_RETENTION_DAYS",
  "LCG_SHUTDOWN_DRAIN_MS",
  "LCG_HTTP_HEADERS_TIMEOUT_MS",
  "LCG_HTTP_REQUEST_TIMEOUT_MS",
  "LCG_HTTP_KEEP_ALIVE_TIMEOUT_MS",
  "LCG_HTTP_MAX_CONNECTIONS",
  "LCG_UPSTREAM_MAX_BODY_BYTES",
  "LCG_UPSTREAM_DEADLINE_MS",
  "LCG_BREAKER_FAILURES",
  "LCG_BREAKER_WINDOW_MS",
  "LCG_BREAKER_COOL_DOWN_MS",
  "CISCO_POLL_INTERVAL_MS",
  "CISCO_MAX_EVENTS_PER_POLL",
  "ZENDESK_POLL_INTERVAL_MS",
  "OTEL_EXPORTER_OTLP_ENDPOINT"
] as const

/**
 * What the sandbox takes from the environment, read as the gateway reads it (pretty lines by
 * default), and its own settings (README.md#run-it).
 */
const sandboxSettings = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  logLevel: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  logFormat: Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault("pretty" as const)),
  ciscoJoinTimeoutSeconds: Config.integer("SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS").pipe(
    Config.validate({
      message: "Expected a whole number of seconds, 0 or more (0 = never)",
      validation: (n) => n >= 0
    }),
    Config.withDefault(defaultWalkthroughSettings.ciscoJoinTimeoutSeconds)
  )
})

type SandboxSettings = Config.Config.Success<typeof sandboxSettings>

const services = (v: WalkthroughVariables) => `
hbf-lcg sandbox is running: simulated hbf-core, hbf-lcm, Genesys Cloud, Cisco CCP, Sunshine Conversations, hbf-bot and event-publisher on loopback.
  gateway          ${v.GATEWAY}   (API docs: ${v.GATEWAY}/docs)
  operator console ${v.GATEWAY}/admin/console   (paste ADMIN_TOKEN, printed below)
  hbf-lcm (agent)  ${v.LCM}
  Genesys Cloud    ${v.GENESYS}
  Cisco CCP        ${v.CISCO}
  Zendesk Sunshine ${v.ZENDESK}
  hbf-bot          ${v.BOT}   (what it received: ${v.BOT}/sandbox/events)
  event-publisher  ${v.PUBLISHER}   (the flows triggered: ${v.PUBLISHER}/sandbox/triggers)
Each simulator lists its agent's actions with example bodies at GET <its URL>/sim.
Demo tenants, one per provider: demo-helvia, demo-genesys, demo-cisco, demo-zendesk.
TOKEN is an upstream token as hbf-bot holds one (any tenant); ADMIN_TOKEN adds scope admin, for /admin.

In your shell first:
${renderVariables(v)}
`

const isPortTaken = (error: unknown) =>
  error instanceof HttpServerError.ServeError &&
  (error.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE"

/** A taken port is the user's to solve: one line saying which and what to do, instead of a stack trace. */
const portTaken = (port: number) =>
  Effect.zipRight(
    Console.error(
      `hbf-lcg sandbox: port ${port} is taken by another process; stop it, or start the sandbox on another port: PORT=${
        port + 1
      } npm start`
    ),
    Effect.sync(() => process.exit(1))
  )

const runSandbox = ({ port, logLevel, logFormat, ciscoJoinTimeoutSeconds }: SandboxSettings) =>
  Effect.scoped(
    Effect.gen(function*() {
      // Signed as in production, so that the simulated hbf-bot verifies every event as hbf-bot must.
      const sandbox = yield* makeSandbox({
        port,
        botSigningSecret: "sandbox-bot-signing-secret",
        cisco: { joinTimeoutMs: ciscoJoinTimeoutSeconds * 1000 },
        configure: (config) => ({ ...config, logLevel, logFormat })
      })
      const variables: WalkthroughVariables = {
        GATEWAY: `http://localhost:${sandbox.config.port}`,
        BOT: sandbox.bot.baseUrl,
        PUBLISHER: sandbox.publisher.baseUrl,
        LCM: sandbox.lcm.baseUrl,
        GENESYS: sandbox.genesys.baseUrl,
        CISCO: sandbox.cisco.baseUrl,
        ZENDESK: new URL(sandbox.zendesk.baseUrl).origin,
        TOKEN: yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret })),
        ADMIN_TOKEN: yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))
      }
      // Printed once the gateway listens: a taken port prints no walkthrough, only what to do.
      const walkthrough = Layer.effectDiscard(
        Console.log(`${services(variables)}\n${renderWalkthroughs({ ciscoJoinTimeoutSeconds })}\n`)
      )
      return yield* Layer.launch(walkthrough.pipe(Layer.provide(GatewayServerLive(sandbox.config, "sandbox")))).pipe(
        Effect.catchIf(isPortTaken, () => portTaken(sandbox.config.port))
      )
    })
  )

/**
 * The sandbox, the simulators' lines logged as the gateway's (LOG_LEVEL, LOG_FORMAT). No traces
 * are exported (OTEL_EXPORTER_OTLP_ENDPOINT runs the production program): tracing is off for
 * the simulators too, whose lines would otherwise carry ids of traces nobody has.
 */
export const sandboxProgram = Effect.flatMap(
  Effect.mapError(sandboxSettings, (e) => new InvalidConfiguration(describeConfigError(e))),
  (settings) =>
    Effect.provide(
      runSandbox(settings),
      Layer.merge(LoggingLive(settings.logFormat, settings.logLevel), TracingLive(undefined))
    )
)
