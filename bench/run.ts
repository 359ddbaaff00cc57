/**
 * `npm run bench`: every benchmark of issue 9, one after the other, with a table each and
 * a summary against the goals; everything is written to bench/results.json.
 *
 * 1. http: the forward path (POST /messages -> provider) side by side with a plain node:http
 *    baseline doing the same I/O, and the ingest path (signed webhooks -> hbf-bot) at its
 *    highest rate and at a steady 500/s (bench/http/paths.ts);
 * 2. memory: heap per open session in an instance, Redis bytes per session, and Redis bytes of a
 *    typical session's timeline;
 * 3. cisco: 10,000 CCP chats polled by one instance (bench/cisco.ts);
 * 4. cluster: RPC round trip and failover time (bench/cluster.ts);
 * 5. boot: `npm start` to a ready sandbox (bench/boot.ts).
 *
 * BENCH_SECTIONS (comma-separated, e.g. "http,memory") runs a subset. Needs Redis at REDIS_URL
 * or 127.0.0.1:6379. Run with node's --expose-gc (the npm script does) for exact heap figures.
 */
import { Context, Effect, Fiber, Layer, Ref, Stream } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import { makeSandbox } from "../sandbox/environment.js"
import { CoreLive } from "../src/app/App.js"
import { everyTenant } from "../src/domain/access.js"
import type { LivechatEvent, SessionRecord } from "../src/domain/model.js"
import type { TimelineEntry } from "../src/domain/timeline.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { LivechatRequests } from "../src/services/LivechatRequests.js"
import { Outbox } from "../src/services/Outbox.js"
import { SessionStore, type SessionStoreService } from "../src/services/SessionStore.js"
import { TimelineStore } from "../src/services/Timeline.js"
import { deleteKeys, testRedisUrl, testStoreLayer } from "../test/integration/redis.js"
import { sandboxBoot } from "./boot.js"
import { ciscoPolling } from "./cisco.js"
import { clusterBench } from "./cluster.js"
import { httpPaths } from "./http/paths.js"
import { median } from "./measure.js"
import { runBenchmark } from "./runBenchmark.js"

const sections = new Set(
  (process.env["BENCH_SECTIONS"] ?? "http,memory,cisco,cluster,boot").split(",").map((s) => s.trim())
)

/**
 * Heap per open session in an instance on the in-memory store (where the instance holds the
 * sessions themselves): SESSIONS livechats opened through the Gateway, heap after minus
 * before (after a full GC), per session.
 */
const heapPerSession = (sessions: number) =>
  Effect.gen(function*() {
    const gc = (globalThis as { gc?: () => void }).gc
    const heapUsed = () => {
      gc?.()
      return process.memoryUsage().heapUsed
    }
    const sandbox = yield* makeSandbox({})
    const context = yield* Layer.build(CoreLive.pipe(Layer.provide(Layer.succeed(AppConfig, sandbox.config))))
    const requests = Context.get(context, LivechatRequests)
    yield* requests.create({ tenantId: "demo-helvia", subHandle: "warm-up" }, everyTenant)
    const before = heapUsed()
    yield* Effect.forEach(
      Array.from({ length: sessions }, (_, i) => i),
      (i) =>
        requests.create({
          tenantId: "demo-helvia",
          subHandle: `heap-${i}`,
          channel: "webchat",
          user: { name: `User ${i}`, email: `user${i}@example.com`, locale: "en" },
          metadata: { plan: "gold", orderId: `A-${i}` }
        }, everyTenant),
      { concurrency: 32, discard: true }
    )
    const after = heapUsed()
    return {
      sessions,
      store: "memory",
      exactGc: gc !== undefined,
      heapBytesPerSession: Math.round((after - before) / sessions)
    }
  }).pipe(Effect.scoped)

/**
 * A typical session's timeline, 38 entries: created, 2 states (taken by an agent, ended), 10
 * provider calls (the create, 8 user messages, the end), 12 events received (the join, the
 * agent's messages) and as many deliveries to hbf-bot, ended. Ids as providers make them
 * (40 characters), times in whole ms as recorded.
 */
const typicalTimeline = (start: number): ReadonlyArray<TimelineEntry> => {
  const eventId = (n: number) => `helvia-livechat:${randomUUID().replaceAll("-", "").slice(0, 24)}${n}`
  const events = Array.from({ length: 12 }, (_, n) => eventId(n))
  const entries: Array<TimelineEntry> = [
    { at: start, kind: "created", provider: "helvia-livechat", channel: "webchat", queue: "support" },
    {
      at: start + 140,
      kind: "provider.call",
      operation: "create",
      outcome: "ok",
      status: 201,
      latencyMs: 138,
      attempt: 1
    }
  ]
  events.forEach((id, n) => {
    const at = start + 20_000 + n * 15_000
    entries.push({
      at,
      kind: "event.received",
      eventId: id,
      type: n === 0 ? "agent.joined" : "agent.message",
      via: "webhook"
    })
    if (n === 0) entries.push({ at: at + 2, kind: "state", from: "pending", to: "active" })
    entries.push({
      at: at + 6,
      kind: "delivery",
      eventId: id,
      seq: n + 1,
      target: "hbf-bot",
      attempt: 1,
      outcome: "delivered",
      status: 200,
      latencyMs: 4
    })
    if (n >= 2 && n < 10) {
      entries.push({
        at: at + 7_000,
        kind: "provider.call",
        operation: "sendMessage",
        outcome: "ok",
        status: 200,
        latencyMs: 95,
        attempt: 1
      })
    }
  })
  const end = start + 20_000 + 12 * 15_000
  entries.push(
    { at: end, kind: "provider.call", operation: "end", outcome: "ok", status: 200, latencyMs: 80, attempt: 1 },
    { at: end + 2, kind: "state", from: "active", to: "ended" },
    { at: end + 2, kind: "ended", reason: "agent", trigger: { by: "event", eventId: events[11]! } }
  )
  return entries
}

/**
 * Redis bytes per session: SESSIONS livechats through the real store (created with a user,
 * channel and metadata, agent joined, two agent messages, every event delivered and acked),
 * then `used_memory` after minus before, divided by SESSIONS. Then each session's typical
 * timeline (typicalTimeline) appended through the real TimelineStore, and the `used_memory`
 * it added, per session, apart.
 */
const redisMemoryPerSession = (sessions: number) =>
  Effect.gen(function*() {
    // Short like the production default ("lcg"): the prefix is repeated in every key.
    const prefix = `lcgb-${randomUUID().slice(0, 6)}`
    const redis = new Redis(testRedisUrl)
    const usedMemory = () => redis.info("memory").then((text) => Number(/used_memory:(\d+)/.exec(text)?.[1]))
    const before = yield* Effect.promise(usedMemory)
    const partitions = 64
    const result = yield* Effect.gen(function*() {
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
      const sessionIds = yield* Effect.forEach(
        Array.from({ length: sessions }, (_, i) => i),
        (i) => oneLivechat(store, i),
        { concurrency: 256 }
      )
      const seconds = (performance.now() - started) / 1000
      while ((yield* Ref.get(drained)) < sessions * 3) yield* Effect.sleep("100 millis")
      yield* Effect.forEach(consumers, Fiber.interrupt, { discard: true })
      const afterSessions = yield* Effect.promise(usedMemory)

      const timelines = yield* TimelineStore
      const start = Date.parse("2026-11-25T10:00:00Z")
      const entriesPerTimeline = typicalTimeline(start).length
      const batches = Array.from({ length: Math.ceil(sessions / 500) }, (_, b) =>
        sessionIds.slice(b * 500, b * 500 + 500))
      yield* Effect.forEach(
        batches,
        (batch) =>
          timelines.append(batch.map((sessionId) => ({ sessionId, entries: typicalTimeline(start) }))),
        { concurrency: 8, discard: true }
      )
      const afterTimelines = yield* Effect.promise(usedMemory)
      return {
        commitsPerSecond: Math.round((sessions * 3) / seconds),
        bytesPerSession: Math.round((afterSessions - before) / sessions),
        timelineEntries: entriesPerTimeline,
        timelineBytesPerSession: Math.round((afterTimelines - afterSessions) / sessions)
      }
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions })))
    yield* Effect.promise(() => deleteKeys(prefix))
    redis.disconnect()
    return { sessions, ...result }
  })

const oneLivechat = (store: SessionStoreService, i: number) =>
  Effect.gen(function*() {
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
    const event = (seq: number, type: "agent.joined" | "agent.message", data: object) =>
      ({
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
    let current: SessionRecord = {
      ...record,
      version: 1,
      lastSeq: 1,
      status: "active",
      assignedAt: at(10),
      agent,
      lastActivityAt: at(10)
    }
    const steps: Array<[SessionRecord, LivechatEvent]> = [[current, event(1, "agent.joined", { agent })]]
    for (const seq of [2, 3]) {
      current = { ...current, version: seq, lastSeq: seq, lastActivityAt: at(seq * 10) }
      steps.push([
        current,
        event(seq, "agent.message", { text: "Thanks for waiting, how can I help you today?", agent })
      ])
    }
    for (const [next, e] of steps) {
      yield* store.commit({ expectedVersion: next.version - 1, next, seen: [e.id], events: [e] })
    }
    return record.sessionId
  })

const program = Effect.gen(function*() {
  const results: Record<string, unknown> = {}
  const save = () => writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2))
  const goals: Record<string, { goal: string; measured: string; met: boolean }> = {}

  if (sections.has("http")) {
    const http = yield* httpPaths({
      sessions: 1000,
      concurrency: 32,
      rounds: 3,
      warmupMs: 2000,
      durationMs: 8000,
      ingestEvents: 10_000,
      ingestRate: 500,
      ingestRateSeconds: 10,
      gatewayNodeArgs: []
    })
    results["http"] = http
    const forwardRows: Record<string, object> = {}
    http.forward.baseline.forEach((baseline, round) => {
      const gateway = http.forward.gateway[round]!
      for (const [name, r] of [["baseline (node:http)", baseline], ["gateway", gateway]] as const) {
        forwardRows[`round ${round + 1}: ${name}`] = {
          "req/s": r.perSecond,
          "p50 ms": r.p50Ms,
          "p99 ms": r.p99Ms,
          "server CPU µs/req": r.serverCpuUsPerRequest,
          "server cores": r.serverCores
        }
      }
    })
    console.log(
      `\nForward path: POST /messages -> provider, ${http.concurrency} in flight, ${http.sessions} sessions, Redis`
    )
    console.table(forwardRows)
    console.log(
      `The gateway at rest with its ${http.sessions} sessions open: ${http.idleCpuMsPerSecond} ms of CPU per second`
    )
    // Each gateway round against the baseline round just before it, and the median of those: one round
    // disturbed on a shared machine (either server's) moves a sum of rounds, not the median.
    const ratios = http.forward.gateway.map((g, round) => g.perSecond / http.forward.baseline[round]!.perSecond)
    const ratio = median(ratios)
    goals["forward throughput vs node:http baseline"] = {
      goal: ">= 0.5x",
      measured: `${ratio.toFixed(2)}x (median of rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")})`,
      met: ratio >= 0.5
    }
    if (http.ingestMax !== undefined && http.ingestSteady !== undefined) {
      console.log("\nIngest path: signed hbf-lcm webhooks -> hbf-bot, Redis")
      console.table({
        ...Object.fromEntries(
          http.ingestMax.map((r, round) => [`highest rate (${http.concurrency} in flight), round ${round + 1}`, r])
        ),
        [`steady ${http.ingestSteady.perSecond}/s`]: http.ingestSteady,
        ...Object.fromEntries(
          http.ingestTwoProcesses.map((r, round) => [`highest rate, two gateway processes, round ${round + 1}`, r])
        )
      })
      // The median of the rounds, as for the forward path.
      const rates = (rounds: ReadonlyArray<{ readonly deliveredPerSecond: number }>) =>
        rounds.map((r) => r.deliveredPerSecond)
      const [one, two] = [median(rates(http.ingestMax)), median(rates(http.ingestTwoProcesses))]
      goals["ingest events/s (one instance, 2 cores, Redis)"] = {
        goal: ">= 2000",
        measured: `${one} (one process; rounds ${rates(http.ingestMax).join(", ")}), ${two} (two; rounds ${
          rates(http.ingestTwoProcesses).join(", ")
        })`,
        met: Math.max(one, two) >= 2000
      }
      goals["ingest p99 delivery at 500 events/s"] = {
        goal: "< 50 ms",
        measured: `${http.ingestSteady.deliveryP99Ms} ms`,
        met: http.ingestSteady.deliveryP99Ms < 50
      }
    }
    save()
  }

  if (sections.has("memory")) {
    const heap = yield* heapPerSession(Number(process.env["BENCH_HEAP_SESSIONS"] ?? 10_000))
    const sessions = Number(process.env["BENCH_SESSIONS"] ?? 100_000)
    const redisMemory = yield* redisMemoryPerSession(sessions)
    results["memory"] = { heap, redis: redisMemory }
    console.log("\nMemory per session")
    console.table({
      [`instance heap, ${heap.sessions} open sessions (memory store)`]: { bytes: heap.heapBytesPerSession },
      [`Redis, ${sessions} livechats`]: {
        bytes: redisMemory.bytesPerSession,
        "store commits/s": redisMemory.commitsPerSecond
      },
      [`Redis, the timeline of a typical session (${redisMemory.timelineEntries} entries), apart`]: {
        bytes: redisMemory.timelineBytesPerSession
      }
    })
    goals["Redis bytes per session"] = {
      goal: "< 2 KB",
      measured: `${redisMemory.bytesPerSession} B`,
      met: redisMemory.bytesPerSession < 2048
    }
    goals["Redis bytes of a typical session's timeline"] = {
      goal: "< 6 KB",
      measured: `${redisMemory.timelineBytesPerSession} B (${redisMemory.timelineEntries} entries)`,
      met: redisMemory.timelineBytesPerSession < 6144
    }
    save()
  }

  if (sections.has("cisco")) {
    const cisco = yield* ciscoPolling
    results["cisco"] = cisco
    goals["CCP polling p99 delay, 10,000 chats"] = {
      goal: "< 5.5 s",
      measured: `${cisco.delayP99Ms} ms`,
      met: cisco.delayP99Ms < 5500
    }
    save()
  }

  if (sections.has("cluster")) {
    results["cluster"] = yield* clusterBench
    save()
  }

  console.log("\nGoals")
  if (sections.has("boot")) {
    const boot = yield* sandboxBoot(3)
    results["boot"] = boot
    goals["npm start to a ready sandbox"] = {
      goal: "< 3000 ms",
      measured: `${boot.medianMs} ms (runs ${boot.runsMs.join(", ")})`,
      met: boot.medianMs < 3000
    }
    save()
  }
  console.table(goals)
  results["goals"] = goals
  save()
})

void runBenchmark(program)
