/**
 * `npm run bench:cisco`: one gateway process polling 10,000 open CCP chats (BENCH_CISCO_SESSIONS)
 * at the default 5 s interval, against the CCP simulator in this process. Reports the
 * gateway's CPU as a share of one core (from /proc), its memory, the polls per second CCP
 * saw, and the delay from an agent's message at CCP to its delivery at hbf-bot (p50, p99,
 * max; the goal is p99 under 5.5 s). Writes bench/cisco.json.
 */
import { Duration, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { freePort, makeSandbox } from "../sandbox/environment.js"
import { signToken } from "../sandbox/token.js"
import { environmentOf, spawnGateway } from "../test/integration/gatewayProcess.js"
import { cpuSeconds, percentile, rssMiB } from "./measure.js"
import { isMain, runBenchmark } from "./runBenchmark.js"

const SESSIONS = Number(process.env["BENCH_CISCO_SESSIONS"] ?? 10_000)
const WINDOW = Duration.seconds(Number(process.env["BENCH_CISCO_WINDOW_SECONDS"] ?? 30))
const MESSAGES = Number(process.env["BENCH_CISCO_MESSAGES"] ?? 600)
/** BENCH_CISCO_NODE_ARGS: node flags for the gateway process (e.g. GC sizing), space-separated. */
const NODE_ARGS = (process.env["BENCH_CISCO_NODE_ARGS"] ?? "").split(" ").filter((arg) => arg !== "")
/** BENCH_CISCO_PROFILE=dir: a CPU profile of the gateway, written there when it stops. */
const PROFILE_DIR = process.env["BENCH_CISCO_PROFILE"]

/** The section bench/run.ts runs too: the results, also written to bench/cisco.json. */
export const ciscoPolling = Effect.gen(function*() {
  // Chats neither time out waiting for an agent nor for inactivity while they are measured.
  const sandbox = yield* makeSandbox({ cisco: { joinTimeoutMs: 0, inactivityTimeoutMs: 3_600_000 } })
  const port = yield* freePort
  const url = `http://127.0.0.1:${port}`
  const gateway = yield* spawnGateway({
    ...environmentOf(sandbox.config),
    PORT: String(port),
    LCG_PUBLIC_URL: url,
    CISCO_POLL_INTERVAL_MS: "5000",
    LOG_LEVEL: "error"
  }, [...NODE_ARGS, ...(PROFILE_DIR !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [])])
  const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))

  // Open the chats (each create also starts its poller at once).
  const sessions: Array<{ sessionId: string; chatId: string }> = []
  const rssBeforeSessions = rssMiB(gateway.pid)
  const createdAt = performance.now()
  let next = 0
  yield* Effect.promise(() =>
    Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < SESSIONS) {
          const i = next++
          const response = await fetch(`${url}/requests`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ tenantId: "demo-cisco", subHandle: `bench-${i}`, user: { name: `User ${i}` } })
          })
          const body = (await response.json()) as { sessionId: string; providerConversationId: string }
          if (response.status !== 201) throw new Error(`create ${i}: ${response.status} ${JSON.stringify(body)}`)
          sessions.push({ sessionId: body.sessionId, chatId: body.providerConversationId })
        }
      })
    )
  )
  const createSeconds = (performance.now() - createdAt) / 1000
  for (const { chatId } of sessions) yield* sandbox.cisco.agentJoin(chatId, "Agent")
  // Steady state: every poller on its own schedule, the joins delivered.
  yield* Effect.sleep(Duration.seconds(12))

  const pollsAt = () => sandbox.cisco.chats().reduce((sum, chat) => sum + chat.polls, 0)
  const cpuBefore = cpuSeconds(gateway.pid)
  // This process runs the CCP simulator (and hbf-core, hbf-bot): if it saturates its core, polls wait on it, not on the gateway.
  const simulatorCpuBefore = cpuSeconds(process.pid)
  const pollsBefore = pollsAt()
  const windowStartedAt = performance.now()
  const sent: Array<{ sessionId: string; text: string; at: number }> = []
  const spacing = Duration.toMillis(WINDOW) / MESSAGES
  for (let i = 0; i < MESSAGES; i++) {
    const { chatId, sessionId } = sessions[Math.floor(Math.random() * sessions.length)]!
    const text = `bench message ${i}`
    yield* sandbox.cisco.agentSay(chatId, text)
    sent.push({ sessionId, text, at: Date.now() })
    yield* Effect.sleep(Duration.millis(spacing))
  }
  const windowSeconds = (performance.now() - windowStartedAt) / 1000
  const cpuShare = (cpuSeconds(gateway.pid) - cpuBefore) / windowSeconds
  const simulatorCpuShare = (cpuSeconds(process.pid) - simulatorCpuBefore) / windowSeconds
  const pollsPerSecond = (pollsAt() - pollsBefore) / windowSeconds
  const rss = rssMiB(gateway.pid)
  yield* Effect.sleep(Duration.seconds(8))

  const delays: Array<number> = []
  let lost = 0
  for (const { at, sessionId, text } of sent) {
    const event = sandbox.bot.eventsOf(sessionId).find((e) =>
      e.type === "agent.message" && (e.data as { text?: string }).text === text
    )
    const arrivedAt = event === undefined ? undefined : sandbox.bot.firstReceivedAt(event.id)
    if (arrivedAt === undefined) lost++
    else delays.push(arrivedAt - at)
  }
  delays.sort((a, b) => a - b)
  const results = {
    sessions: SESSIONS,
    createsPerSecond: Math.round(SESSIONS / createSeconds),
    pollIntervalMs: 5000,
    pollsPerSecond: Math.round(pollsPerSecond),
    gatewayCpuShareOfOneCore: Math.round(cpuShare * 1000) / 1000,
    gatewayRssMiB: Math.round(rss),
    /** The instance's resident memory per open CCP chat (each has a poller of its own). */
    gatewayRssKiBPerSession: Math.round(((rss - rssBeforeSessions) * 1024) / SESSIONS),
    simulatorsCpuShareOfOneCore: Math.round(simulatorCpuShare * 1000) / 1000,
    messages: sent.length,
    lost,
    delayP50Ms: Math.round(percentile(delays, 0.5)),
    delayP99Ms: Math.round(percentile(delays, 0.99)),
    delayMaxMs: Math.round(delays.at(-1) ?? 0)
  }
  console.table({ "CCP polling": results })
  writeFileSync(new URL("./cisco.json", import.meta.url), JSON.stringify(results, null, 2))
  // A graceful stop, so that the profile (if asked for) is written.
  yield* gateway.kill("SIGTERM")
  if (lost > 0) return yield* Effect.dieMessage(`${lost} agent messages were not delivered`)
  return results
}).pipe(Effect.scoped)

if (isMain(import.meta.url)) void runBenchmark(ciscoPolling)
