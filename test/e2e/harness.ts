import { FetchHttpClient } from "@effect/platform"
/** Starts the real gateway (HTTP on a loopback port) against the simulators of sandbox/. */
import { Duration, Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { afterEach } from "vitest"
import { makeSandbox, type SandboxOptions } from "../../sandbox/environment.js"
import { signToken, type TokenOptions } from "../../sandbox/token.js"
import { GatewayServerLive } from "../../src/app/App.js"
import { LcgClient } from "../../src/client/LcgClient.js"
import { readAnswer } from "../answers.js"
import { eventually } from "../eventually.js"
import { deleteKeys, testRedisUrl, uniquePrefix } from "../integration/redis.js"
import { checkAnswersOf, takeProblems } from "./openApiConformance.js"

// Every answer of a gateway started here is checked against its /openapi.json (the call that
// got it rejects); one a simulator got, whose error the test may not see, fails the test here.
afterEach(() => {
  const problems = takeProblems()
  if (problems.length > 0) throw new Error(`answers /openapi.json does not declare:\n${problems.join("\n")}`)
})

export const stores = ["memory", "redis"] as const
export type StoreKind = (typeof stores)[number]

export interface GatewayOptions extends SandboxOptions {
  /** memory (default) or a real Redis under a key prefix of its own, deleted afterwards. */
  readonly store?: StoreKind
  /** A Redis of the test's own instead of the shared one (left as it is afterwards). */
  readonly redisUrl?: string
  /** Every line the gateway logs, at any level, is pushed here (logfmt) instead of being printed. */
  readonly logs?: Array<string>
}

export { readAnswer }

export const startGateway = (options: GatewayOptions = {}) =>
  Effect.gen(function*() {
    const prefix = uniquePrefix("e2e")
    if (options.store === "redis" && options.redisUrl === undefined) {
      yield* Effect.addFinalizer(() => Effect.promise(() => deleteKeys(prefix)))
    }
    const sandbox = yield* makeSandbox({
      ...options,
      configure: (config) => {
        const fast = {
          ...config,
          delivery: { maxAttempts: 4, baseDelay: Duration.millis(20), maxDelay: Duration.millis(200) },
          sweepInterval: Duration.millis(200),
          ...(options.store === "redis"
            ? { redis: { url: Redacted.make(options.redisUrl ?? testRedisUrl), prefix } }
            : {})
        }
        return options.configure ? options.configure(fast) : fast
      }
    })
    yield* Layer.buildWithScope(GatewayServerLive(sandbox.config, "sandbox"), yield* Effect.scope)
    const url = `http://127.0.0.1:${sandbox.config.port}`
    checkAnswersOf(url)
    const token = (extra: Partial<TokenOptions> = {}) =>
      Effect.promise(() => signToken({ secret: sandbox.jwtSecret, ...extra }))
    const bearer = yield* token()
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      Effect.promise(async () => {
        const response = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${bearer}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
            ...headers
          },
          ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {})
        })
        return readAnswer(response)
      })
    /** The typed client (src/client/LcgClient.ts) with the same token: what hbf-bot uses, for the happy paths. */
    const lcg = yield* Effect.provide(
      LcgClient,
      LcgClient.layer({ baseUrl: url, token: bearer }).pipe(Layer.provide(FetchHttpClient.layer))
    )
    return { ...sandbox, url, token, call, lcg }
  }).pipe(
    Effect.provide(
      options.logs === undefined
        ? Logger.minimumLogLevel(LogLevel.Warning)
        : Layer.merge(
          Logger.replace(
            Logger.defaultLogger,
            Logger.map(Logger.logfmtLogger, (line) => void options.logs!.push(line))
          ),
          Logger.minimumLogLevel(LogLevel.All)
        )
    )
  )

export type Gateway = Effect.Effect.Success<ReturnType<typeof startGateway>>

/** A livechat request with a user, a bot transcript and metadata, as hbf-bot sends one. */
export const livechatRequest = (tenantId: string, subHandle: string) => ({
  tenantId,
  subHandle,
  channel: "webchat",
  user: { name: "Alice", email: "alice@example.com" },
  transcript: [
    { author: "user", text: "I need help with my plan", at: "2026-11-26T10:00:00Z" },
    { author: "bot", text: "Let me find you an agent", at: "2026-11-26T10:00:01Z" }
  ],
  metadata: { plan: "basic" }
})

/** The event types hbf-bot received for a session, in arrival order. */
export const typesOf = (gw: Gateway, sessionId: string) => gw.bot.eventsOf(sessionId).map((e) => e.type)

/** The agent each agent event (joined, message, typing, left) names, in order. */
export const agentsNamed = (events: ReadonlyArray<{ readonly type: string; readonly data: unknown }>) =>
  events.filter((e) => e.type.startsWith("agent.")).map((e) => (e.data as { readonly agent?: unknown }).agent)

/** Waits until hbf-bot has at least `n` events of the session. */
export const eventsReach = (gw: Gateway, sessionId: string, n: number) =>
  eventually("hbf-bot has the events", Effect.sync(() => gw.bot.eventsOf(sessionId).length), (count) => count >= n)

/** In a /metrics text, the value of the series of `name` that has all of `labels` (`key="value"`, comma-separated; 0 when none). */
export const metricValue = (text: string, name: string, labels = ""): number =>
  Number(
    text
      .split("\n")
      .find(
        (line) =>
          (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) &&
          labels.split(",").every((label) => line.slice(0, line.lastIndexOf("}") + 1).includes(label))
      )
      ?.split(" ")
      .at(-1) ?? 0
  )
