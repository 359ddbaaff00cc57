/**
 * The one line an instance logs once it listens, the same from every entry point: how it runs,
 * on which port, on which store, as which instance, with which providers. On the in-process
 * store it also warns that a restart loses every session. Nothing secret: no URL, no token.
 */
import { HttpServer } from "@effect/platform"
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"

/**
 * `sandbox`: `npm start` without configuration (simulated services, a published JWT secret);
 * `production`: the configuration from the environment.
 */
export type GatewayMode = "sandbox" | "production"

/** Needs the HttpServer, so it is built once the server listens. */
export const StartLineLive = (mode: GatewayMode) =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const { address } = yield* HttpServer.HttpServer
      const config = yield* AppConfig
      const { aliases } = yield* ProviderRegistry
      const port = address._tag === "TcpAddress" ? address.port : address.path
      const store = config.redis === undefined ? "memory" : "redis"
      yield* Effect.logInfo(
        `hbf-lcg listening: port=${port} mode=${mode} store=${store} instanceId=${config.instanceId} providers=${
          aliases.join(",")
        }`
      )
      if (store === "memory") {
        yield* Effect.logWarning(
          "store=memory: sessions and undelivered events live in this process only, a restart loses every session; set REDIS_URL (and no LCG_STORE) to keep them"
        )
      }
    })
  )
