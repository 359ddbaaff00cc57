/**
 * The forward and ingest paths through a gateway process on Redis, as deployed: its own
 * process, running the compiled JavaScript with the Docker image's flags and NODE_ENV (tsx,
 * which `npm start` uses, adds a helper call to every function it creates), with the load
 * from this process.
 *
 * Forward: POST /messages at fixed concurrency, side by side with `baseline.ts` (plain
 * node:http doing the same I/O) in the same run, alternating rounds. Ingest: signed hbf-lcm
 * webhooks -> hbf-bot, after an unmeasured warm-up burst: at a fixed 500/s, then at the
 * highest rate the gateway takes (in rounds, on one process and on two), timed from posting
 * the webhook to the event's arrival at hbf-bot.
 */
import { Duration, Effect, Redacted } from "effect"
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { createHmac, randomUUID } from "node:crypto"
import { Pool } from "undici"
import { demoHelviaSecret } from "../../sandbox/demoTenants.js"
import { freePort, makeSandbox } from "../../sandbox/environment.js"
import { signToken } from "../../sandbox/token.js"
import type { ClusterStatus } from "../../src/services/Coordinator.js"
import { compiledEntry, environmentOf, spawnGateway } from "../../test/integration/gatewayProcess.js"
import { deleteKeys, testRedisUrl, uniquePrefix } from "../../test/integration/redis.js"
import { cpuSeconds, percentile, rssMiB } from "../measure.js"
import { closedLoop, type LoadResult, openLoop } from "./load.js"
import { startStubs } from "./stubs.js"

export interface PathOptions {
  readonly sessions: number
  readonly concurrency: number
  readonly rounds: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly ingestEvents: number
  readonly ingestRate: number
  readonly ingestRateSeconds: number
  /** Which paths to measure (both by default). */
  readonly only?: "forward" | "ingest"
  /** Node flags for the gateway process (a profiler, say). */
  readonly gatewayNodeArgs: ReadonlyArray<string>
}

const IDLE_SECONDS = 5

const startBaseline = (port: number, prefix: string, providerUrl: string) =>
  Effect.acquireRelease(
    Effect.async<ChildProcess, Error>((resume) => {
      const child = spawn(process.execPath, ["--import", "tsx", new URL("./baseline.ts", import.meta.url).pathname], {
        env: {
          ...process.env,
          PORT: String(port),
          REDIS_URL: testRedisUrl,
          BASELINE_PREFIX: prefix,
          PROVIDER_URL: providerUrl
        },
        stdio: ["ignore", "pipe", "inherit"]
      })
      child.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("baseline ready")) resume(Effect.succeed(child))
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`the baseline exited (${code})`))))
    }),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )

const helviaWebhook = (sessionId: string, subHandle: string, i: number) => {
  const body = JSON.stringify({
    id: `bench-${randomUUID()}`,
    type: "MESSAGE",
    platformSessionId: sessionId,
    platformUserId: subHandle,
    occurredAt: new Date().toISOString(),
    agent: { id: "agent-1", fullName: "Bench Agent" },
    message: { text: `agent message ${i}` }
  })
  const signature = `sha256=${createHmac("sha256", demoHelviaSecret).update(body).digest("hex")}`
  return {
    path: "/events/helvia-livechat",
    headers: { "content-type": "application/json", "x-helvia-signature": signature },
    body
  }
}

export const httpPaths = (options: PathOptions) =>
  Effect.gen(function*() {
    const stubs = yield* Effect.acquireRelease(Effect.promise(startStubs), (s) => Effect.sync(s.close))
    // hbf-core (tenants, fetched once and cached) stays the simulator; the measured calls go to the stubs.
    const sandbox = yield* makeSandbox({
      configure: (config) => ({
        ...config,
        hbfLcm: { ...config.hbfLcm, url: stubs.providerUrl },
        hbfBot: { url: stubs.receiverUrl },
        eventPublisherUrl: stubs.receiverUrl
      })
    })
    const prefix = uniquePrefix("bench")
    yield* Effect.addFinalizer(() => Effect.promise(() => deleteKeys(prefix)))
    const gatewayPort = yield* freePort
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`
    const gatewayEnv = {
      ...environmentOf({ ...sandbox.config, redis: { url: Redacted.make(testRedisUrl), prefix } }),
      LOG_LEVEL: "error",
      NODE_ENV: "production"
    }
    const entry = yield* compiledEntry
    const gateway = yield* spawnGateway(
      { ...gatewayEnv, PORT: String(gatewayPort), LCG_PUBLIC_URL: gatewayUrl, LCG_INSTANCE_ID: "bench-1" },
      options.gatewayNodeArgs,
      entry
    )
    const baselinePort = yield* freePort
    const baselineUrl = `http://127.0.0.1:${baselinePort}`
    const baseline = yield* startBaseline(baselinePort, `${prefix}:baseline`, stubs.providerUrl)
    const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))

    // The sessions, opened through the gateway; the baseline gets the same records to read.
    const sessions: Array<{ sessionId: string; subHandle: string }> = []
    const rssBefore = rssMiB(gateway.pid)
    yield* Effect.promise(() => closedLoopCreate(gatewayUrl, token, options.sessions, (s) => sessions.push(s)))
    const rssAfterSessions = rssMiB(gateway.pid)
    const redis = new Redis(testRedisUrl)
    yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
    yield* Effect.promise(() =>
      redis.mset(
        sessions.flatMap((s) => [
          `${prefix}:baseline:subscriber:${s.subHandle}`,
          JSON.stringify({
            sessionId: s.sessionId,
            subHandle: s.subHandle,
            organizationId: "demo-org",
            status: "active"
          })
        ])
      )
    )

    const messageRequest = (i: number) => {
      const { subHandle } = sessions[i % sessions.length]!
      return {
        path: "/messages",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          tenantId: "demo-helvia",
          subHandle,
          messageId: `m-${randomUUID()}`,
          text: "hello, I need help with my order"
        })
      }
    }
    const forward = { gateway: [] as Array<LoadResult>, baseline: [] as Array<LoadResult> }
    for (let round = 0; options.only !== "ingest" && round < options.rounds; round++) {
      for (
        const [name, url, pid] of [
          ["baseline", baselineUrl, baseline.pid!],
          ["gateway", gatewayUrl, gateway.pid]
        ] as const
      ) {
        forward[name].push(
          yield* Effect.promise(() =>
            closedLoop({
              url,
              serverPid: pid,
              concurrency: options.concurrency,
              warmupMs: options.warmupMs,
              durationMs: options.durationMs,
              expectStatus: 202,
              request: messageRequest
            })
          )
        )
      }
    }

    const webhook = (i: number) => {
      const { sessionId, subHandle } = sessions[i % sessions.length]!
      return helviaWebhook(sessionId, subHandle, i)
    }
    // The gateway's own background work (consumers, sweeps, heartbeats, poll clocks) with its sessions open and no load:
    // what it costs is taken from every request.
    const idleBefore = cpuSeconds(gateway.pid)
    yield* Effect.sleep(Duration.seconds(IDLE_SECONDS))
    const idleCpuMsPerSecond = Math.round(((cpuSeconds(gateway.pid) - idleBefore) / IDLE_SECONDS) * 1000)
    if (options.only === "forward") {
      yield* gateway.kill("SIGTERM")
      return { forward, idleCpuMsPerSecond }
    }
    /** Webhooks at fixed concurrency spread over `targets` (gateway processes), until hbf-bot has every event. */
    const ingestAtFullRate = (targets: ReadonlyArray<{ readonly url: string; readonly pid: number }>, offset: number) =>
      Effect.promise(async () => {
        const before = stubs.delivered.size
        const cpuBefore = targets.map(({ pid }) => cpuSeconds(pid))
        const started = performance.now()
        const sentAt: Array<number> = []
        let next = 0
        const pools = targets.map(({ url }) => new Pool(url, { connections: options.concurrency }))
        await Promise.all(
          Array.from({ length: options.concurrency }, async (_, worker) => {
            const pool = pools[worker % pools.length]!
            while (next < options.ingestEvents) {
              const i = offset + next++
              const { body, headers, path } = webhook(i)
              sentAt[i] = performance.now()
              const response = await pool.request({ method: "POST", path, headers, body })
              const text = await response.body.text()
              if (response.statusCode !== 200) throw new Error(`webhook answered ${response.statusCode}: ${text}`)
            }
          })
        )
        const answeredSeconds = (performance.now() - started) / 1000
        await Promise.all(pools.map((pool) => pool.close()))
        await until(() => stubs.delivered.size - before >= options.ingestEvents, 120_000)
        const seconds = (performance.now() - started) / 1000
        const cpu = targets.reduce((sum, { pid }, i) => sum + cpuSeconds(pid) - cpuBefore[i]!, 0)
        return {
          processes: targets.length,
          events: options.ingestEvents,
          webhooksPerSecond: Math.round(options.ingestEvents / answeredSeconds),
          deliveredPerSecond: Math.round(options.ingestEvents / seconds),
          gatewayCpuUsPerEvent: Math.round((cpu * 1e6) / options.ingestEvents),
          gatewayCores: Math.round((cpu / seconds) * 100) / 100,
          ...latencies(stubs.delivered, sentAt, "agent message ")
        }
      })
    // Each measured event has its own index (its text and send time), so the phases take consecutive ranges.
    let nextIndex = 0
    const indices = (count: number) => {
      const first = nextIndex
      nextIndex += count
      return first
    }
    // The ingest path warmed up by one unmeasured burst at the highest rate, as the forward rounds have their
    // warm-up: on a path the JIT compiler has not optimized yet, the steady phase's tail timed the compiler.
    yield* ingestAtFullRate([{ url: gatewayUrl, pid: gateway.pid }], indices(options.ingestEvents))
    // Ingest at a steady rate: the end-to-end latency a user would notice. Measured before the highest-rate
    // rounds: behind three of them it also timed a major GC of their garbage.
    const ingestSteady = yield* Effect.promise(async () => {
      const total = options.ingestRate * options.ingestRateSeconds
      const offset = indices(total)
      const before = stubs.delivered.size
      const run = await openLoop({
        url: gatewayUrl,
        perSecond: options.ingestRate,
        durationMs: options.ingestRateSeconds * 1000,
        expectStatus: 200,
        request: (i) => webhook(offset + i)
      })
      await until(() => stubs.delivered.size - before >= total, 60_000)
      const sentAt: Array<number> = []
      run.startedAt.forEach((at, i) => (sentAt[offset + i] = at))
      const answered = [...run.answeredMs].sort((a, b) => a - b)
      return {
        perSecond: options.ingestRate,
        events: total,
        webhookAnswerP99Ms: Math.round(percentile(answered, 0.99) * 10) / 10,
        ...latencies(stubs.delivered, sentAt, "agent message ")
      }
    })

    // The highest rate, in rounds as on the forward path: one run of a few seconds on a shared machine is one sample of its mood.
    const inRounds = (targets: ReadonlyArray<{ readonly url: string; readonly pid: number }>) =>
      Effect.forEach(
        Array.from({ length: options.rounds }),
        () => ingestAtFullRate(targets, indices(options.ingestEvents))
      )
    const ingestMax = yield* inRounds([{ url: gatewayUrl, pid: gateway.pid }])

    // The same on two gateway processes (one per core), members of one cluster on the same Redis.
    const secondPort = yield* freePort
    const second = yield* spawnGateway(
      {
        ...gatewayEnv,
        PORT: String(secondPort),
        LCG_PUBLIC_URL: `http://127.0.0.1:${secondPort}`,
        LCG_INSTANCE_ID: "bench-2"
      },
      options.gatewayNodeArgs,
      entry
    )
    // Until the partitions are split between the two and each works its half.
    const admin = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))
    yield* Effect.promise(async () => {
      const split = async () => {
        const status =
          (await fetch(`${gatewayUrl}/admin/cluster`, { headers: { authorization: `Bearer ${admin}` } }).then((r) =>
            r.json()
          )) as ClusterStatus
        return status.members.length === 2 &&
          status.members.every((m) => m.report !== undefined && m.report.working.length === 32)
      }
      const deadline = performance.now() + 30_000
      while (!(await split())) {
        if (performance.now() > deadline) throw new Error("the two gateway processes did not split the partitions")
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })
    const ingestTwoProcesses = yield* inRounds([
      { url: gatewayUrl, pid: gateway.pid },
      { url: `http://127.0.0.1:${secondPort}`, pid: second.pid }
    ])

    // A graceful stop, so that a profile (if asked for) is written.
    yield* gateway.kill("SIGTERM")
    return {
      sessions: options.sessions,
      concurrency: options.concurrency,
      forward,
      idleCpuMsPerSecond,
      ingestMax,
      ingestSteady,
      ingestTwoProcesses,
      gatewayHeapMiBPerThousandSessions: Math.round(((rssAfterSessions - rssBefore) / options.sessions) * 1000 * 100) /
        100
    }
  }).pipe(Effect.scoped)

/** Delivery latency per event: hbf-bot's arrival time minus when its webhook was posted. */
const latencies = (
  delivered: ReadonlyMap<string, { text: string | undefined; at: number }>,
  sentAt: ReadonlyArray<number>,
  textPrefix: string
) => {
  const delays: Array<number> = []
  for (const { at, text } of delivered.values()) {
    if (text === undefined || !text.startsWith(textPrefix)) continue
    const sent = sentAt[Number(text.slice(textPrefix.length))]
    if (sent !== undefined) delays.push(at - sent)
  }
  delays.sort((a, b) => a - b)
  return {
    deliveryP50Ms: Math.round(percentile(delays, 0.5) * 10) / 10,
    deliveryP99Ms: Math.round(percentile(delays, 0.99) * 10) / 10,
    deliveryMaxMs: Math.round((delays.at(-1) ?? 0) * 10) / 10
  }
}

const until = async (done: () => boolean, timeoutMs: number) => {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline) throw new Error("timed out waiting for deliveries")
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const closedLoopCreate = async (
  url: string,
  token: string,
  count: number,
  created: (session: { sessionId: string; subHandle: string }) => void
) => {
  let next = 0
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const subHandle = `bench-${next++}`
        const response = await fetch(`${url}/requests`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle, user: { name: subHandle } })
        })
        const body = (await response.json()) as { sessionId: string }
        if (response.status !== 201) throw new Error(`create ${subHandle}: ${response.status} ${JSON.stringify(body)}`)
        created({ sessionId: body.sessionId, subHandle })
      }
    })
  )
}
