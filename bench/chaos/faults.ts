/**
 * The faults, on a schedule scaled to the traffic window: each one runs in a fiber of its
 * own at its time (a restart or an outage's end comes later inside it), and is logged with
 * the second it started, what it hit, how many and what came of it.
 */
import { Duration, Effect, Fiber } from "effect"
import type { ChatSession, ProviderAlias, ProviderDriver } from "./drivers.js"
import type { InstanceId, Rig } from "./rig.js"
import { type Ledger, recordAgentTexts } from "./traffic.js"

export interface FaultRecord {
  readonly kind: string
  readonly target: string
  /** Seconds since the traffic started, and the wall-clock time (to match gateway logs). */
  readonly at: number
  readonly atIso: string
  count: number
  detail: string
}

interface Fault {
  /** When, as a fraction of the traffic window. */
  readonly at: number
  readonly kind: string
  readonly target: string
  readonly run: (record: FaultRecord) => Effect.Effect<void>
}

const RESTART_AFTER = Duration.seconds(8)
const BOT_OUTAGE = Duration.seconds(20)
const REDIS_OUTAGE = Duration.seconds(5)

export const runFaults = (
  rig: Rig,
  ledger: Ledger,
  drivers: ReadonlyArray<ProviderDriver>,
  startedAt: number,
  windowMs: number
) =>
  Effect.gen(function*() {
    const log: Array<FaultRecord> = []
    const sessionsOf = (p: ProviderAlias) => ledger.sessions.filter((s) => s.provider === p)
    const pick = (p: ProviderAlias): ChatSession => {
      const list = sessionsOf(p)
      return list[Math.floor(Math.random() * list.length)]!
    }
    const seconds = () => Math.round((Date.now() - startedAt) / 100) / 10

    const restartLater = (id: InstanceId, signal: "SIGKILL" | "SIGTERM") => (record: FaultRecord) =>
      Effect.gen(function*() {
        const code = yield* rig.stop(id, signal)
        yield* Effect.sleep(RESTART_AFTER)
        yield* rig.start(id)
        record.detail = `exit ${code === null ? signal : code}; restarted at ${seconds()} s`
      })

    const bursts = (status: 429 | 503, n: number): ReadonlyArray<Fault> =>
      drivers.map((d) => ({
        at: status === 429 ? 0.1 : 0.4,
        kind: `provider ${status} burst`,
        target: d.provider,
        run: (record) =>
          Effect.zipRight(
            d.burst(n, status),
            Effect.sync(() => ((record.count = n), (record.detail = `next ${n} calls`)))
          )
      }))

    const duplicates = (at: number): ReadonlyArray<Fault> =>
      drivers.flatMap((d) =>
        d.duplicate === undefined
          ? []
          : [
            {
              at,
              kind: "duplicate webhooks",
              target: d.provider,
              run: (record) =>
                Effect.gen(function*() {
                  const answers: Array<string> = []
                  for (let i = 0; i < 3; i++) {
                    answers.push(yield* d.duplicate!(pick(d.provider)))
                    yield* Effect.sleep(Duration.millis(300)) // one at a time (Sunshine's flag covers the next event only)
                  }
                  record.count = answers.length
                  record.detail = `answered ${answers.join(",")}`
                })
            } satisfies Fault
          ]
      )

    const reorders: ReadonlyArray<Fault> = drivers.flatMap((d) =>
      d.reorder === undefined
        ? []
        : [
          {
            at: 0.6,
            kind: "reordered webhooks",
            target: d.provider,
            run: (record) =>
              Effect.gen(function*() {
                const s = pick(d.provider)
                const texts = [
                  `chaos ${s.provider} ${s.index} reordered-1`,
                  `chaos ${s.provider} ${s.index} reordered-2`
                ] as const
                const accepted = yield* d.reorder!(s, texts)
                recordAgentTexts(ledger, s, texts, accepted)
                record.count = 2
                record.detail = `2nd before 1st; ${accepted.length} accepted`
              })
          } satisfies Fault
        ]
    )

    const malformed: ReadonlyArray<Fault> = drivers.map((d) => ({
      at: 0.3,
      kind: "malformed webhooks",
      target: d.provider,
      run: (record) =>
        Effect.gen(function*() {
          const answers: Array<string> = []
          for (const m of d.malformed(pick(d.provider))) {
            const status = yield* rig.postRaw(`/events/${d.provider}`, m.body, m.headers)
            answers.push(`${m.kind}: ${status}`)
            malformedAnswers.push({ provider: d.provider, kind: m.kind, status })
          }
          record.count = answers.length
          record.detail = answers.join("; ")
        })
    }))
    const malformedAnswers: Array<{ provider: ProviderAlias; kind: string; status: number }> = []

    const schedule: ReadonlyArray<Fault> = [
      ...bursts(429, 6),
      ...duplicates(0.15),
      { at: 0.2, kind: "kill -9", target: "instance a", run: restartLater("a", "SIGKILL") },
      ...malformed,
      {
        at: 0.35,
        kind: "hbf-bot down (503)",
        target: "hbf-bot",
        run: (record) =>
          Effect.gen(function*() {
            const restore = rig.sandbox.bot.failWhile(() => true, 503)
            yield* Effect.sleep(BOT_OUTAGE)
            restore()
            record.detail = `${Duration.toSeconds(BOT_OUTAGE)} s; back at ${seconds()} s`
          })
      },
      ...bursts(503, 6),
      { at: 0.5, kind: "SIGTERM", target: "instance b", run: restartLater("b", "SIGTERM") },
      ...reorders,
      {
        at: 0.7,
        kind: "Redis restart",
        target: "redis",
        run: (record) =>
          Effect.gen(function*() {
            yield* rig.redis.stop
            yield* Effect.sleep(REDIS_OUTAGE)
            yield* rig.redis.start
            record.detail = `down ${Duration.toSeconds(REDIS_OUTAGE)} s; back at ${seconds()} s`
          })
      },
      ...duplicates(0.8),
      { at: 0.85, kind: "kill -9", target: "instance c", run: restartLater("c", "SIGKILL") }
    ]

    const fibers = yield* Effect.forEach(schedule, (fault) =>
      Effect.fork(
        Effect.gen(function*() {
          yield* Effect.sleep(Duration.millis(Math.max(0, startedAt + fault.at * windowMs - Date.now())))
          const record: FaultRecord = {
            kind: fault.kind,
            target: fault.target,
            at: seconds(),
            atIso: new Date().toISOString(),
            count: 1,
            detail: ""
          }
          log.push(record)
          // A fault that could not be carried out (an instance that would not restart) is reported, not fatal.
          yield* fault.run(record).pipe(
            Effect.catchAllDefect((d) => Effect.sync(() => void (record.detail = `failed: ${String(d).slice(0, 300)}`)))
          )
        })
      ))
    return { log, malformedAnswers, done: Fiber.joinAll(fibers) }
  })
