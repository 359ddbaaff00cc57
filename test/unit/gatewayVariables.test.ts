/**
 * `npm start` runs the sandbox only while none of the gateway's variables is set. A variable
 * the gateway reads but the list leaves out would be ignored there: set alone (or with others
 * the list also misses), it would start the sandbox instead of failing like the image.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, ConfigProviderPathPatch, Effect, HashSet } from "effect"
import { gatewayVariables } from "../../sandbox/main.js"
import { appConfigFromEnv } from "../../src/app/AppConfigLive.js"

/** Every variable `appConfigFromEnv` asks for, from an empty environment (Config.all asks for all of them). */
const variablesRead = Effect.gen(function*() {
  const read = new Set<string>()
  const recording = ConfigProvider.fromFlat(
    ConfigProvider.makeFlat({
      load: (path) => {
        read.add(path.join("_"))
        return Effect.fail(ConfigError.MissingData([...path], "unset"))
      },
      enumerateChildren: () => Effect.succeed(HashSet.empty()),
      patch: ConfigProviderPathPatch.empty
    })
  )
  yield* Effect.either(Effect.withConfigProvider(appConfigFromEnv, recording))
  return read
})

describe("the gateway's variables (npm start's choice between the sandbox and a configuration)", () => {
  it.effect("are every variable the gateway reads, but PORT, LOG_LEVEL and LOG_FORMAT (the sandbox honours those)", () =>
    Effect.gen(function*() {
      const read = yield* variablesRead
      expect(read.has("HBF_CORE_URL")).toBe(true)
      expect([...gatewayVariables].sort()).toEqual(
        [...read].filter((name) => !["PORT", "LOG_LEVEL", "LOG_FORMAT"].includes(name)).sort()
      )
    }))
})
