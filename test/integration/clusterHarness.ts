/** Cluster instances on one Redis (gateway processes, or bare coordinators in this process), for the cluster tests and benchmark. */
import { Effect, Exit, Redacted, Scope } from "effect"
import { freePort, makeSandbox } from "../../sandbox/environment.js"
import { signToken } from "../../sandbox/token.js"
import { redisCoordinator } from "../../src/cluster/RedisCoordinator.js"
import { type ClusterStatus, type CoordinatorService, pollNowKind } from "../../src/services/Coordinator.js"
import { partitionOf } from "../../src/services/Outbox.js"
import { environmentOf, type GatewayProcess, spawnGateway } from "./gatewayProcess.js"
import { testRedisUrl, uniquePrefix } from "./redis.js"

export interface Instance {
  readonly id: string
  readonly url: string
  readonly process: GatewayProcess
}

/**
 * A sandbox (simulated hbf-* services and providers) and a way to start gateway processes
 * sharing one Redis prefix, with `env` over their configuration (the caller deletes the
 * prefix's keys when done).
 */
export const startClusterWith = (env: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const sandbox = yield* makeSandbox({})
    const prefix = uniquePrefix("cluster")
    const base = {
      ...environmentOf({ ...sandbox.config, redis: { url: Redacted.make(testRedisUrl), prefix } }),
      ...env
    }
    const user = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
    const admin = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))
    /** An instance, with `own` over the cluster's configuration (an undefined value unsets a variable). */
    const start = (id: string, own: Readonly<Record<string, string | undefined>> = {}) =>
      Effect.gen(function*() {
        const port = yield* freePort
        const url = `http://127.0.0.1:${port}`
        const process = yield* spawnGateway({
          ...base,
          ...own,
          PORT: String(port),
          LCG_PUBLIC_URL: url,
          LCG_INSTANCE_ID: id
        })
        return { id, url, process } satisfies Instance
      })
    const status = (instance: Instance) =>
      Effect.promise(() =>
        fetch(`${instance.url}/admin/cluster`, { headers: { authorization: `Bearer ${admin}` } }).then(
          (r) => r.json() as Promise<ClusterStatus>
        )
      )
    const createSession = (instance: Instance, subHandle: string, tenantId = "demo-helvia") =>
      Effect.promise(() =>
        fetch(`${instance.url}/requests`, {
          method: "POST",
          headers: { authorization: `Bearer ${user}`, "content-type": "application/json" },
          body: JSON.stringify({ tenantId, subHandle })
        }).then((r) => r.json() as Promise<{ sessionId: string; providerConversationId?: string }>)
      )
    return { sandbox, prefix, start, status, createSession }
  })

export const startCluster = startClusterWith({})

export const ownersCount = (status: ClusterStatus) => {
  const counts: Record<string, number> = {}
  for (const { owner } of status.partitions) counts[owner] = (counts[owner] ?? 0) + 1
  return counts
}

export interface Poll {
  readonly by: string
  readonly partition: number
  readonly sessionId: string
}

/**
 * A Redis coordinator in this process, in a scope of its own (closed to make it leave), with a poller on every
 * partition it owns that knows the sessions named "open-…" and records each poll.
 */
export const startCoordinator = (prefix: string, instanceId: string, partitions: number, polls: Array<Poll>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const coordinator = yield* redisCoordinator({ url: Redacted.make(testRedisUrl), prefix, instanceId, partitions })
      .pipe(
        Scope.extend(scope)
      )
    yield* coordinator
      .runPerPartition("test-poller", ({ answer, handOver, partition }) =>
        Effect.zipRight(
          answer(pollNowKind, (sessionId) =>
            Effect.sync(() => {
              if (!sessionId.startsWith("open-")) return false
              polls.push({ by: instanceId, partition, sessionId })
              return true
            })),
          handOver
        ))
      .pipe(Scope.extend(scope))
    return { coordinator, leave: Scope.close(scope, Exit.void) }
  })

/** A session id whose partition `owner` works, as `status` reports it. */
export const sessionOwnedBy = (coordinator: CoordinatorService, owner: string, label: string) =>
  Effect.gen(function*() {
    const { partitions } = yield* coordinator.status
    const owned = new Set(partitions.filter((p) => p.owner === owner).map((p) => p.partition))
    for (let i = 0;; i++) {
      const sessionId = `${label}-${i}`
      if (owned.has(partitionOf(sessionId, partitions.length))) return sessionId
    }
  })
