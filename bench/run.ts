/**
 * `npm run bench`: the forward path (POST /messages -> hbf-lcm simulator) at fixed
 * concurrency against the real gateway on loopback, and the ingest path (signed hbf-lcm
 * webhooks -> hbf-bot simulator), each on the in-memory store and on Redis; then Redis
 * memory per session for 100,000 livechats (BENCH_SESSIONS to change). Needs Redis at
 * REDIS_URL or 127.0.0.1:6379. Prints tables and writes bench/results.json.
 */
import { Effect, Fiber, Logger, LogLevel, Ref, Stream } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import { runBenchmark } from "./runBenchmark.js"
import type { LivechatEvent, SessionRecord } from "../src/domain/model.js"
import { Outbox } from "../src/services/Outbox.js"
import { SessionStore, type SessionStoreService } from "../src/services/SessionStore.js"
import { startGateway, type StoreKind } from "../test/e2e/harness.js"
import { deleteKeys, testRedisUrl, testStoreLayer } from "../test/integration/redis.js"

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

/** The forward and ingest paths through the real HTTP gateway on one store. */
const httpPaths = (store: StoreKind) =>
  Effect.gen(function* () {
    const gw = yield* startGateway({ store })
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
    const started = performance.now()
    const ingest = yield* Effect.promise(() =>
      load(2000, 32, async (i) => {
        const result = await Effect.runPromise(
          gw.lcm.say(sessions[i % subscribers]!, `agent ${i}`).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))
        )
        if (result.status !== 200) throw new Error(`webhook answered ${result.status}`)
      })
    )
    yield* gw.bot.waitFor((es) => es.filter((e) => e.type === "agent.message").length >= 2000, "60 seconds")
    const deliveredPerSecond = Math.round(2000 / ((performance.now() - started) / 1000))
    return { forward, ingest: { ...ingest, deliveredPerSecond } }
  }).pipe(Effect.scoped)

/**
 * Redis bytes per session: SESSIONS livechats through the real store (created with a user,
 * channel and metadata, agent joined, two agent messages, every event delivered and acked),
 * then `used_memory` after minus before, divided by SESSIONS.
 */
const redisMemoryPerSession = (sessions: number) =>
  Effect.gen(function* () {
    // Short like the production default ("lcg"): the prefix is repeated in every key.
    const prefix = `lcgb-${randomUUID().slice(0, 6)}`
    const redis = new Redis(testRedisUrl)
    const usedMemory = () => redis.info("memory").then((text) => Number(/used_memory:(\d+)/.exec(text)?.[1]))
    const before = yield* Effect.promise(usedMemory)
    const partitions = 64
    const result = yield* Effect.gen(function* () {
      const store = yield* SessionStore
      const outbox = yield* Outbox
      const drained = yield* Ref.make(0)
      const consumers = yield* Effect.forEach(
        Array.from({ length: partitions }, (_, p) => p),
        (p) =>
          outbox.consume(p).pipe(
            Stream.runForEach((entry) => Effect.zipRight(outbox.ack(entry), Ref.update(drained, (n) => n + 1))),
            Effect.fork
          )
      )
      const started = performance.now()
      yield* Effect.forEach(
        Array.from({ length: sessions }, (_, i) => i),
        (i) => oneLivechat(store, i),
        { concurrency: 256, discard: true }
      )
      const seconds = (performance.now() - started) / 1000
      while ((yield* Ref.get(drained)) < sessions * 3) yield* Effect.sleep("100 millis")
      yield* Effect.forEach(consumers, Fiber.interrupt, { discard: true })
      return { commitsPerSecond: Math.round((sessions * 3) / seconds) }
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions })))
    const after = yield* Effect.promise(usedMemory)
    yield* Effect.promise(() => deleteKeys(prefix))
    redis.disconnect()
    return { sessions, bytesPerSession: Math.round((after - before) / sessions), ...result }
  })

const oneLivechat = (store: SessionStoreService, i: number) =>
  Effect.gen(function* () {
    const at = (s: number) => new Date(Date.parse("2026-11-25T10:00:00Z") + s * 1000).toISOString()
    const record: SessionRecord = {
      sessionId: randomUUID(),
      tenantId: `tenant-${i % 100}`,
      organizationId: `org-${i % 20}`,
      subHandle: `subscriber-${i}`,
      provider: "helvia-livechat",
      providerConversationId: `conv-${i}`,
      status: "pending",
      createdAt: at(0),
      lastActivityAt: at(0),
      version: 0,
      lastSeq: 0,
      channel: "webchat",
      queue: "support",
      user: { name: `User ${i}`, email: `user${i}@example.com`, locale: "en" },
      metadata: { plan: "gold", orderId: `A-${i}` }
    }
    yield* store.create(record)
    const event = (seq: number, type: "agent.joined" | "agent.message", data: object) => ({
      id: `helvia-livechat:evt-${i}-${seq}`,
      sessionId: record.sessionId,
      tenantId: record.tenantId,
      organizationId: record.organizationId,
      subHandle: record.subHandle,
      provider: record.provider,
      seq,
      occurredAt: at(seq * 10),
      type,
      data
    }) as LivechatEvent
    const agent = { id: "agent-7", name: "Maria" }
    let current: SessionRecord = { ...record, version: 1, lastSeq: 1, status: "active", assignedAt: at(10), agent, lastActivityAt: at(10) }
    const steps: Array<[SessionRecord, LivechatEvent]> = [[current, event(1, "agent.joined", { agent })]]
    for (const seq of [2, 3]) {
      current = { ...current, version: seq, lastSeq: seq, lastActivityAt: at(seq * 10) }
      steps.push([current, event(seq, "agent.message", { text: "Thanks for waiting, how can I help you today?", agent })])
    }
    for (const [next, e] of steps) {
      yield* store.commit({ expectedVersion: next.version - 1, next, seen: [e.id], events: [e] })
    }
  })

const program = Effect.gen(function* () {
  const memory = yield* httpPaths("memory")
  const redis = yield* httpPaths("redis")
  const sessions = Number(process.env["BENCH_SESSIONS"] ?? 100_000)
  const redisMemory = yield* redisMemoryPerSession(sessions)
  const row = (r: { perSecond: number; p50: number; p99: number }) => ({
    "req/s": r.perSecond,
    "p50 ms": r.p50.toFixed(1),
    "p99 ms": r.p99.toFixed(1)
  })
  console.table({
    "forward POST /messages (memory)": row(memory.forward),
    "forward POST /messages (redis)": row(redis.forward),
    "ingest webhook (memory)": { ...row(memory.ingest), "delivered/s": memory.ingest.deliveredPerSecond },
    "ingest webhook (redis)": { ...row(redis.ingest), "delivered/s": redis.ingest.deliveredPerSecond }
  })
  console.table({
    [`redis, ${sessions} livechats`]: {
      "bytes/session": redisMemory.bytesPerSession,
      "store commits/s": redisMemory.commitsPerSecond
    }
  })
  const results = {
    forward: { requests: 4000, concurrency: 32, memory: memory.forward, redis: redis.forward },
    ingestWebhooks: { events: 2000, concurrency: 32, memory: memory.ingest, redis: redis.ingest },
    redisMemory
  }
  writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2))
})

void runBenchmark(program)
