/**
 * The system under chaos: a private redis-server (so stopping it never touches the shared
 * one), the sandbox's simulators, three gateway processes a/b/c on that Redis under one
 * unique key prefix, and a load balancer in front of them on the port the simulated
 * providers post their webhooks to. Everything lives in the caller's Scope: closing it
 * (normally, on a failure or on Ctrl-C) kills every child process and the Redis.
 */
import { Effect, Redacted, Scope } from "effect"
import { freePort, makeSandbox } from "../../sandbox/environment.js"
import { signToken } from "../../sandbox/token.js"
import { readAnswer } from "../../test/answers.js"
import { environmentOf, type GatewayProcess, sourceEntry, spawnGateway } from "../../test/integration/gatewayProcess.js"
import { uniquePrefix } from "../../test/integration/redis.js"
import { startRedisServer } from "../../test/integration/redisServer.js"
import { startBalancer } from "./balancer.js"

export const instanceIds = ["a", "b", "c"] as const
export type InstanceId = (typeof instanceIds)[number]

interface Slot {
  readonly port: number
  readonly url: string
  process: GatewayProcess | undefined
  /** Output of earlier lives of this instance (before a kill or a SIGTERM), for diagnosis. */
  history: string
}

export const startRig = Effect.gen(function*() {
  // Restarts happen in fault fibers: the processes still belong to the run's scope.
  const scope = yield* Effect.scope
  const redis = yield* startRedisServer
  // Genesys retries a webhook 5 times 5 s apart; 1 s apart keeps recovery within the run.
  const sandbox = yield* makeSandbox({ genesys: { webhookRetryDelayMs: 1_000 } })
  const prefix = uniquePrefix("chaos")
  const slots = new Map<InstanceId, Slot>()
  for (const id of instanceIds) {
    const port = yield* freePort
    slots.set(id, { port, url: `http://127.0.0.1:${port}`, process: undefined, history: "" })
  }
  // The balancer takes the sandbox's own port: the Genesys and Sunshine simulators already post their webhooks there.
  const balancer = yield* startBalancer(sandbox.config.port, () => [...slots.values()].map((s) => s.url))
  const env = {
    ...environmentOf({ ...sandbox.config, redis: { url: Redacted.make(redis.url), prefix } }),
    // hbf-lcm's callbackUrl is built from it: every instance names the balancer.
    LCG_PUBLIC_URL: balancer.url,
    // Small backstop intervals so that recovery after a fault fits in the run.
    CISCO_POLL_INTERVAL_MS: "500",
    ZENDESK_POLL_INTERVAL_MS: "1000",
    LOG_LEVEL: process.env["CHAOS_LOG_LEVEL"] ?? "warn"
  }
  const user = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
  const admin = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))

  const slot = (id: InstanceId) => slots.get(id)!
  /** Starts (or restarts, on the same port) an instance; waits until it is ready. */
  const start = (id: InstanceId) =>
    Effect.gen(function*() {
      const s = slot(id)
      s.process = yield* spawnGateway({ ...env, PORT: String(s.port), LCG_INSTANCE_ID: id }, [], sourceEntry).pipe(
        Scope.extend(scope)
      )
    })
  /** Sends `signal` and waits for the exit; its exit code (null when killed by the signal). */
  const stop = (id: InstanceId, signal: "SIGKILL" | "SIGTERM") =>
    Effect.gen(function*() {
      const s = slot(id)
      const running = s.process
      if (running === undefined) return null
      const code = yield* running.kill(signal)
      s.history += `${running.output()}\n--- ${signal} (exit ${code}) ---\n`
      s.process = undefined
      return code
    })
  const outputOf = (id: InstanceId) => slot(id).history + (slot(id).process?.output() ?? "")

  /** A call through the balancer, as hbf-bot (or on-call, with `as: "admin"`) makes it. */
  const call = (method: string, path: string, body?: unknown, as: "user" | "admin" = "user") =>
    Effect.promise(async () => {
      try {
        const response = await fetch(`${balancer.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${as === "admin" ? admin : user}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {})
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(20_000)
        })
        return await readAnswer(response)
      } catch (e) {
        return { status: 0, headers: new Headers(), body: String(e) as any }
      }
    })

  /** A raw POST of exact bytes to a webhook route through the balancer: the answer status. */
  const postRaw = (path: string, body: Uint8Array | string, headers: Record<string, string>) =>
    Effect.promise(() =>
      fetch(`${balancer.url}${path}`, { method: "POST", headers, body, signal: AbortSignal.timeout(20_000) }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        () => 0
      )
    )

  return {
    redis,
    sandbox,
    prefix,
    balancer,
    start,
    stop,
    outputOf,
    call,
    postRaw,
    running: (id: InstanceId) => slot(id).process !== undefined
  }
})

export type Rig = Effect.Effect.Success<typeof startRig>
