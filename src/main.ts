/**
 * Entry point. With neither HBF_CORE_URL nor REDIS_URL set, runs the sandbox: the gateway
 * plus simulated hbf-* services on loopback, and prints a token and a walkthrough.
 * Otherwise reads the configuration from the environment (CONTRACTS.md section 8).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { GatewayServerLive } from "./layers/App.js"
import { InvalidConfiguration, loadAppConfig } from "./layers/AppConfigLive.js"
import { LoggingLive } from "./layers/Logging.js"
import type { GatewayMode } from "./layers/StartLine.js"
import { TracingLive } from "./layers/Tracing.js"
import { sandboxProgram } from "./sandbox/main.js"
import type { AppConfigValues } from "./services/AppConfig.js"

const serve = (config: AppConfigValues, mode: GatewayMode) =>
  Layer.launch(GatewayServerLive(config, mode)).pipe(
    Effect.provide(TracingLive(config.otlpEndpoint)),
    Effect.provide(LoggingLive(config.logFormat, config.logLevel))
  )

const production = Effect.flatMap(loadAppConfig, (config) => serve(config, "production"))

const isSandbox = !process.env["HBF_CORE_URL"] && !process.env["REDIS_URL"]

const program: Effect.Effect<void, unknown> = isSandbox ? sandboxProgram((config) => serve(config, "sandbox")) : production

NodeRuntime.runMain(
  program.pipe(
    // A bad configuration is one plain message naming every bad variable, then exit 1.
    Effect.catchIf(
      (e) => e instanceof InvalidConfiguration,
      (e) => Effect.zipRight(Console.error((e as InvalidConfiguration).message), Effect.sync(() => process.exit(1)))
    )
  ),
  // Our own logger (LOG_FORMAT) is the only one; runMain's pretty logger would print every line twice.
  { disablePrettyLogger: true }
)
