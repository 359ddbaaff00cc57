/**
 * What the entry points run: the production entry (src/main.ts: `node dist/main.js`, the
 * Docker image) and `npm start` (sandbox/start.ts, which runs `production` whenever a
 * gateway variable is set). Nothing here imports the sandbox: it is not built into dist/.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { LoggingLive } from "../infra/Logging.js"
import { TracingLive } from "../infra/Tracing.js"
import type { AppConfigValues } from "../services/AppConfig.js"
import { GatewayServerLive } from "./App.js"
import { InvalidConfiguration, loadAppConfig } from "./AppConfigLive.js"
import type { GatewayMode } from "./StartLine.js"

/** The gateway with `config`, logging and tracing as it says, until the process is stopped. */
export const serveGateway = (config: AppConfigValues, mode: GatewayMode) =>
  Layer.launch(GatewayServerLive(config, mode)).pipe(
    Effect.provide(TracingLive(config.otlpEndpoint)),
    Effect.provide(LoggingLive(config.logFormat, config.logLevel))
  )

/** The configuration from the environment (README.md#configuration), served; it is read before anything listens. */
export const production = Effect.flatMap(loadAppConfig, (config) => serveGateway(config, "production"))

/** Runs an entry point's program as the process. */
export const runEntry = (program: Effect.Effect<void, unknown>) =>
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
