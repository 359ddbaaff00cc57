/** Gateway instances as separate processes on one Redis, for the cluster tests and the failover benchmark. */
import { Duration, Effect, Redacted } from "effect"
import { freePort, makeSandbox } from "../../src/sandbox/environment.js"
import { signToken } from "../../src/sandbox/token.js"
import type { ClusterStatus } from "../../src/services/Coordinator.js"
import { environmentOf, type GatewayProcess, spawnGateway } from "./gatewayProcess.js"
import { testRedisUrl, uniquePrefix } from "./redis.js"

export interface Instance {
  readonly id: string
  readonly url: string
  readonly process: GatewayProcess
}

/**
 * A sandbox (simulated hbf-* services) and a way to start gateway processes sharing one
 * Redis prefix (the caller deletes its keys when done).
 */
export const startCluster = Effect.gen(function* () {
  const sandbox = yield* makeSandbox({})
  const prefix = uniquePrefix("cluster")
  const base = environmentOf({ ...sandbox.config, redis: { url: Redacted.make(testRedisUrl), prefix } })
  const user = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
  const admin = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))
  const start = (id: string) =>
    Effect.gen(function* () {
      const port = yield* freePort
      const url = `http://127.0.0.1:${port}`
      const process = yield* spawnGateway({ ...base, PORT: String(port), LCG_PUBLIC_URL: url, LCG_INSTANCE_ID: id })
      return { id, url, process } satisfies Instance
    })
  const status = (instance: Instance) =>
    Effect.promise(() =>
      fetch(`${instance.url}/admin/cluster`, { headers: { authorization: `Bearer ${admin}` } }).then(
        (r) => r.json() as Promise<ClusterStatus>
      )
    )
  const createSession = (instance: Instance, subHandle: string) =>
    Effect.promise(() =>
      fetch(`${instance.url}/requests`, {
        method: "POST",
        headers: { authorization: `Bearer ${user}`, "content-type": "application/json" },
        body: JSON.stringify({ tenantId: "demo-helvia", subHandle })
      }).then((r) => r.json() as Promise<{ sessionId: string }>)
    )
  return { sandbox, prefix, start, status, createSession }
})

/** Polls until `check` holds, failing with `what` after `timeout`. */
export const eventually = <A>(what: string, probe: Effect.Effect<A>, check: (a: A) => boolean, timeout = Duration.seconds(10)) =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(timeout)
    for (;;) {
      const value = yield* probe
      if (check(value)) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage(`${what}: not within ${Duration.format(timeout)}: ${JSON.stringify(value).slice(0, 500)}`)
      yield* Effect.sleep(Duration.millis(100))
    }
  })

export const ownersCount = (status: ClusterStatus) => {
  const counts: Record<string, number> = {}
  for (const { owner } of status.partitions) counts[owner] = (counts[owner] ?? 0) + 1
  return counts
}

