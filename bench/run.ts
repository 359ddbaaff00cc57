/**
 * `npm run bench`: the forward path (POST /messages -> hbf-lcm simulator) at fixed
 * concurrency against the real gateway on loopback, and the ingest path (signed hbf-lcm
 * webhooks -> hbf-bot simulator) with end-to-end delivery latency. Prints a table and
 * writes bench/results.json.
 */
import { Effect, Logger, LogLevel } from "effect"
import { writeFileSync } from "node:fs"
import { startGateway } from "../test/e2e/harness.js"

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

const load = async (total: number, concurrency: number, one: (i: number) => Promise<void>) => {
  const latencies: Array<number> = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++
        const t = performance.now()
        await one(i)
        latencies.push(performance.now() - t)
      }
    })
  )
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { perSecond: Math.round(total / seconds), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

const program = Effect.gen(function* () {
  const gw = yield* startGateway()
  const subscribers = 50
  const sessions: Array<string> = []
  for (let s = 0; s < subscribers; s++) {
    const created = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: `bench-${s}` })
    sessions.push(created.body.sessionId)
  }
  const token = yield* gw.token()
  const forward = yield* Effect.promise(() =>
    load(4000, 32, async (i) => {
      const response = await fetch(`${gw.url}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ tenantId: "demo-helvia", subHandle: `bench-${i % subscribers}`, messageId: `m-${i}`, text: "hello" })
      })
      if (response.status !== 202) throw new Error(`forward answered ${response.status}`)
      await response.arrayBuffer()
    })
  )
  const ingest = yield* Effect.promise(() =>
    load(2000, 32, async (i) => {
      const result = await Effect.runPromise(gw.lcm.say(sessions[i % subscribers]!, `agent ${i}`))
      if (result.status !== 200) throw new Error(`webhook answered ${result.status}`)
    })
  )
  yield* gw.bot.waitFor((es) => es.length >= 2000, "60 seconds")
  const results = {
    forward: { requests: 4000, concurrency: 32, ...forward },
    ingestWebhooks: { events: 2000, concurrency: 32, ...ingest }
  }
  console.table({
    "forward POST /messages": { "req/s": forward.perSecond, "p50 ms": forward.p50.toFixed(1), "p99 ms": forward.p99.toFixed(1) },
    "ingest webhook": { "req/s": ingest.perSecond, "p50 ms": ingest.p50.toFixed(1), "p99 ms": ingest.p99.toFixed(1) }
  })
  writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2))
}).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
