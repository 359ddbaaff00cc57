/**
 * `npm run chaos` (issue 9): three gateway processes on one private Redis under steady
 * traffic for all four providers, while instances are killed (-9) and stopped (SIGTERM),
 * Redis restarts, hbf-bot is down for 20 s, providers answer 429/503 bursts and webhooks
 * come twice, out of order or malformed. Then every session is ended and the checker
 * (bench/chaos/verify.ts) compares what hbf-bot accepted with what the providers accepted.
 * Prints the faults and the outcome, writes bench/chaos.json, exits 1 on any finding.
 *
 * Loopback only. CHAOS_SECONDS (default 150) bounds the run: the traffic window is that
 * less 40 s for start-up, recovery and the ending (each wait after it is capped too). CHAOS_SESSIONS: sessions
 * per provider (default 3). CHAOS_LOG_LEVEL: the gateways' LOG_LEVEL (default warn); their
 * output goes to bench/chaos-logs/ when the run fails.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Exit, Fiber, Logger, LogLevel } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { eventually } from "../test/eventually.js"
import { type ChatSession, makeDrivers, type ProviderAlias } from "./chaos/drivers.js"
import { runFaults } from "./chaos/faults.js"
import { instanceIds, type Rig, startRig } from "./chaos/rig.js"
import { newLedger, newRunId, openSession, runTraffic } from "./chaos/traffic.js"
import { verify } from "./chaos/verify.js"

const TOTAL_MS = Number(process.env["CHAOS_SECONDS"] ?? 150) * 1000
/** Start-up (~10 s) and recovery plus the ending (~15-30 s) take the rest. */
const WINDOW_MS = Math.max(30_000, TOTAL_MS - 40_000)
const SESSIONS_PER_PROVIDER = Number(process.env["CHAOS_SESSIONS"] ?? 3)
const AGENT_EVERY_MS = 1_500
const USER_EVERY_MS = 3_000
/** Caps on the waits after the traffic (each ends as soon as its condition holds). */
const RECOVERY = Duration.seconds(Math.max(20, TOTAL_MS / 5000))

const t0 = Date.now()
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`
const say = (line: string) => Effect.sync(() => console.log(`[chaos ${elapsed()}] ${line}`))

/** Polls `check` until it holds or `timeout` passes; whether it held (the checker reports what did not). */
const waitUntil = (check: () => boolean, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(timeout)
    while (!check()) {
      if (Date.now() > deadline) return false
      yield* Effect.sleep(Duration.millis(250))
    }
    return true
  })

/** Until hbf-bot has accepted nothing new for `quiet`. */
const waitQuiet = (rig: Rig, quiet: Duration.Duration, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(timeout)
    let last = -1
    let since = Date.now()
    while (Date.now() < deadline) {
      const n = rig.sandbox.bot.events().length
      if (n !== last) [last, since] = [n, Date.now()]
      else if (Date.now() - since >= Duration.toMillis(quiet)) return
      yield* Effect.sleep(Duration.millis(250))
    }
  })

const deliveredTexts = (rig: Rig) =>
  new Set(
    rig.sandbox.bot.events().flatMap((
      e
    ) => (e.type === "agent.message" ? [`${e.sessionId} ${String((e.data as { text?: unknown }).text)}`] : []))
  )

const program = Effect.gen(function*() {
  const rig = yield* startRig
  yield* say(`private Redis ${rig.redis.url}, prefix ${rig.prefix}, balancer ${rig.balancer.url}`)
  yield* Effect.forEach(instanceIds, rig.start, { concurrency: "unbounded", discard: true })
  yield* eventually(
    "three members own every partition",
    rig.call("GET", "/admin/cluster", undefined, "admin"),
    (r) =>
      r.status === 200 && r.body.members?.length === 3 &&
      r.body.partitions?.every((p: { owner?: string }) => instanceIds.includes(p.owner as never)),
    Duration.seconds(30)
  )
  yield* say("cluster of a, b, c ready")

  const drivers = makeDrivers(rig)
  const driverOf = (p: ProviderAlias) => drivers.find((d) => d.provider === p)!
  const ledger = newLedger()
  const runId = newRunId()
  for (const d of drivers) {
    for (let i = 1; i <= SESSIONS_PER_PROVIDER; i++) ledger.sessions.push(yield* openSession(rig, d, i, runId))
  }
  yield* Effect.forEach(ledger.sessions, (s) => driverOf(s.provider).join(s), {
    concurrency: "unbounded",
    discard: true
  })
  const joined = (s: ChatSession) => rig.sandbox.bot.eventsOf(s.sessionId).some((e) => e.type === "agent.joined")
  if (!(yield* waitUntil(() => ledger.sessions.every(joined), Duration.seconds(30)))) {
    return yield* Effect.dieMessage(
      `agents did not join: ${ledger.sessions.filter((s) => !joined(s)).map((s) => s.sessionId).join(", ")}`
    )
  }
  yield* say(`${ledger.sessions.length} sessions open, agents joined; traffic and faults for ${WINDOW_MS / 1000} s`)

  // Traffic and faults together.
  const startedAt = Date.now()
  const traffic = yield* Effect.fork(
    runTraffic(rig, ledger, driverOf, startedAt + WINDOW_MS, AGENT_EVERY_MS, USER_EVERY_MS)
  )
  const faults = yield* runFaults(rig, ledger, drivers, startedAt, WINDOW_MS)
  yield* Fiber.join(traffic)
  yield* say("traffic stopped; waiting for the faults to be undone")
  yield* faults.done
  for (const id of instanceIds) if (!rig.running(id)) yield* rig.start(id)

  // Settle: every accepted agent message delivered (or the cap).
  const expected = ledger.sessions.flatMap((s) =>
    (ledger.agentAccepted.get(s.sessionId) ?? []).map((t) => `${s.sessionId} ${t}`)
  )
  const settled = yield* waitUntil(() => {
    const got = deliveredTexts(rig)
    return expected.every((t) => got.has(t))
  }, RECOVERY)
  yield* say(
    settled
      ? "every accepted agent message delivered; ending the sessions"
      : "not everything delivered within the cap; ending the sessions anyway"
  )

  // End every session: even ones by the user (DELETE), odd ones by the agent.
  yield* Effect.forEach(
    ledger.sessions,
    (s) =>
      Effect.gen(function*() {
        if (s.index % 2 === 0) {
          ledger.endedBy.set(s.sessionId, "user")
          for (let i = 0; i < 10; i++) {
            const r = yield* rig.call("DELETE", `/sessions/tenants/${s.tenantId}/subscribers/${s.subHandle}`)
            if (r.status === 204 || r.status === 404) break
            yield* Effect.sleep(Duration.seconds(1))
          }
        } else {
          ledger.endedBy.set(s.sessionId, "agent")
          yield* driverOf(s.provider).endByAgent(s)
        }
      }),
    { concurrency: "unbounded", discard: true }
  )
  const ended = (s: ChatSession) => rig.sandbox.bot.eventsOf(s.sessionId).some((e) => e.type === "session.ended")
  yield* waitUntil(() => ledger.sessions.every(ended), RECOVERY)
  yield* waitQuiet(rig, Duration.seconds(3), RECOVERY)
  yield* say("quiet; checking")

  const disruptions = faults.log
    .filter((f) => f.target.startsWith("instance") || f.target === "redis")
    .map((f) => ({ label: `${f.kind} ${f.target} at ${f.atIso}`, atMs: Date.parse(f.atIso) }))
  const result = yield* verify(rig, ledger, drivers, faults.malformedAnswers, disruptions)
  const failed = result.findings.some((f) => f.failed)

  console.log("\nFaults injected")
  console.table(
    faults.log.map((f) => ({ fault: f.kind, target: f.target, "at (s)": f.at, count: f.count, outcome: f.detail }))
  )
  console.log("\nOutcome")
  console.table([
    ...Object.entries(result.summary).map(([check, value]) => ({ check, value, verdict: "" })),
    ...result.findings.map((f) => ({
      check: f.check,
      value: f.value,
      verdict: f.failed ? "FAIL" : f.examples.length > 0 ? String(f.examples[0]) : "ok"
    }))
  ])
  for (const f of result.findings.filter((f) => f.failed)) {
    console.log(`\n${f.check}:\n  ${f.examples.map((e) => JSON.stringify(e)).join("\n  ")}`)
  }
  const wall = (Date.now() - t0) / 1000
  console.log(`\n${failed ? "FAILED" : "PASSED"} in ${wall.toFixed(1)} s (traffic window ${WINDOW_MS / 1000} s)`)

  writeFileSync(
    new URL("./chaos.json", import.meta.url),
    JSON.stringify(
      {
        passed: !failed,
        wallSeconds: wall,
        windowSeconds: WINDOW_MS / 1000,
        sessions: ledger.sessions.map((s) => ({ ...s, endedBy: ledger.endedBy.get(s.sessionId) })),
        faults: faults.log,
        summary: result.summary,
        findings: result.findings,
        duplicates: result.duplicates,
        deadLetters: result.deadLetters
      },
      null,
      2
    )
  )
  if (failed) {
    const dir = new URL("./chaos-logs/", import.meta.url)
    mkdirSync(dir, { recursive: true })
    for (const id of instanceIds) writeFileSync(new URL(`${id}.log`, dir), rig.outputOf(id))
    console.log("gateway output: bench/chaos-logs/")
  }
  process.exitCode = failed ? 1 : 0
})

NodeRuntime.runMain(Effect.scoped(program).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))), {
  // Exit once the scope closed (every child killed, Redis stopped), whatever sockets linger.
  teardown: (exit, _onExit) => process.exit(Exit.isFailure(exit) ? 1 : Number(process.exitCode ?? 0))
})
