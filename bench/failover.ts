/**
 * `npm run bench:failover`: three gateway processes on one Redis; the leader is killed with
 * SIGKILL several times (a replacement joins after each kill). Reports, per kill, how long
 * until a new leader is seen and until every partition is owned by a living instance, and
 * their medians. Needs Redis at REDIS_URL or 127.0.0.1:6379. Writes bench/failover.json.
 */
import { Duration, Effect, Logger, LogLevel } from "effect"
import { writeFileSync } from "node:fs"
import type { ClusterStatus } from "../src/services/Coordinator.js"
import { eventually, type Instance, ownersCount, startCluster } from "../test/integration/clusterHarness.js"
import { deleteKeys } from "../test/integration/redis.js"

const KILLS = Number(process.env["BENCH_KILLS"] ?? 5)

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const program = Effect.gen(function* () {
  const { prefix, start, status } = yield* startCluster
  const instances: Array<Instance> = []
  for (const id of ["gw-1", "gw-2", "gw-3"]) instances.push(yield* start(id))
  const balanced = (s: ClusterStatus) => {
    const counts = Object.values(ownersCount(s))
    return s.members.length === 3 && counts.length === 3 && Math.max(...counts) - Math.min(...counts) <= 1
  }
  yield* eventually("an even split", status(instances[0]!), balanced, Duration.seconds(20))

  const kills: Array<{ newLeaderMs: number; allOwnedMs: number }> = []
  for (let k = 0; k < KILLS; k++) {
    const view = yield* status(instances[0]!)
    const leader = instances.find((i) => i.id === view.leader)!
    const survivors = instances.filter((i) => i !== leader)
    const killedAt = Date.now()
    yield* leader.process.kill("SIGKILL")
    yield* eventually("a new leader", status(survivors[0]!), (s) => s.leader !== "" && s.leader !== leader.id, Duration.seconds(15))
    const newLeaderMs = Date.now() - killedAt
    const living = new Set(survivors.map((i) => i.id))
    yield* eventually("every partition owned", status(survivors[0]!), (s) => s.partitions.every((p) => living.has(p.owner)), Duration.seconds(15))
    const allOwnedMs = Date.now() - killedAt
    kills.push({ newLeaderMs, allOwnedMs })
    instances.splice(instances.indexOf(leader), 1)
    instances.push(yield* start(`gw-${4 + k}`))
    yield* eventually("an even split again", status(instances[0]!), balanced, Duration.seconds(20))
  }
  yield* Effect.promise(() => deleteKeys(prefix))

  console.table(kills.map((k, i) => ({ kill: i + 1, "new leader ms": k.newLeaderMs, "all partitions owned ms": k.allOwnedMs })))
  const summary = {
    kills: kills.length,
    medianNewLeaderMs: median(kills.map((k) => k.newLeaderMs)),
    medianAllOwnedMs: median(kills.map((k) => k.allOwnedMs)),
    maxAllOwnedMs: Math.max(...kills.map((k) => k.allOwnedMs))
  }
  console.table({ median: summary })
  writeFileSync(new URL("./failover.json", import.meta.url), JSON.stringify({ ...summary, runs: kills }, null, 2))
}).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
