/**
 * The checker: what hbf-bot accepted (its 200-answered deliveries, not its attempts) against
 * what the providers accepted, plus the gateway's own view of every session. Strict: every
 * finding below fails the run; nothing is excused here (the report explains, the exit code
 * does not bend).
 */
import { Effect } from "effect"
import type { ReceivedEvent } from "../../sandbox/hbfBotSim.js"
import type { ChatSession, ProviderAlias, ProviderDriver } from "./drivers.js"
import type { Rig } from "./rig.js"
import type { Ledger } from "./traffic.js"

export interface Finding {
  readonly check: string
  readonly value: number
  readonly failed: boolean
  readonly examples: ReadonlyArray<unknown>
}

const textOf = (e: ReceivedEvent) => (e.data as { text?: unknown }).text
const isChaosAgentText = (t: unknown): t is string => typeof t === "string" && t.startsWith("chaos")

/** hbf-bot's accepted deliveries, each with when it was answered (from its attempt log). */
export const acceptedDeliveries = (rig: Rig) => {
  const bot = rig.sandbox.bot
  const times = new Map<string, Array<number>>()
  for (const a of bot.attempts()) {
    const id = (a.body as { id?: unknown } | null)?.id
    if (a.status === 200 && typeof id === "string") times.set(id, [...(times.get(id) ?? []), Date.parse(a.at)])
  }
  return { events: [...bot.events()], times }
}

export const verify = (
  rig: Rig,
  ledger: Ledger,
  drivers: ReadonlyArray<ProviderDriver>,
  malformedAnswers: ReadonlyArray<{ provider: ProviderAlias; kind: string; status: number }>,
  /** Instance and Redis faults: a duplicate near one of them is labelled with it (it still fails the run). */
  disruptions: ReadonlyArray<{ label: string; atMs: number }>
) =>
  Effect.gen(function*() {
    const { events, times } = acceptedDeliveries(rig)
    // Debug hook to prove the checker can fail: CHAOS_SELFTEST=drop forgets one delivered agent message.
    if (process.env["CHAOS_SELFTEST"] === "drop") {
      const i = events.findIndex((e) => e.type === "agent.message")
      if (i >= 0) events.splice(i, 1)
    }
    const sessionIds = new Set(ledger.sessions.map((s) => s.sessionId))
    const findings: Array<Finding> = []
    const add = (check: string, examples: ReadonlyArray<unknown>, value = examples.length) =>
      findings.push({ check, value, failed: value > 0, examples: examples.slice(0, 10) })
    const info = (check: string, value: number, examples: ReadonlyArray<unknown> = []) =>
      findings.push({ check, value, failed: false, examples: examples.slice(0, 10) })

    // 2. Exactly once by id: an id hbf-bot accepted twice, with where each copy came from in time.
    const count = new Map<string, number>()
    for (const e of events) count.set(e.id, (count.get(e.id) ?? 0) + 1)
    const duplicates = [...count].filter(([, n]) => n > 1).map(([id, n]) => {
      const e = events.find((x) => x.id === id)!
      const at = times.get(id) ?? []
      const near = disruptions.find((k) => Math.abs((at[0] ?? 0) - k.atMs) < 3_000)
      return {
        id,
        type: e.type,
        sessionId: e.sessionId,
        seq: e.seq,
        copies: n,
        at: at.map((t) => new Date(t).toISOString()),
        firstNear: near?.label
      }
    })
    const firsts = events.filter((e, i) => events.findIndex((o) => o.id === e.id) === i)

    // Events hbf-bot got for sessions nobody opened: a malformed webhook (or anything else) made an event.
    add(
      "events of unknown sessions",
      firsts.filter((e) => !sessionIds.has(e.sessionId)).map((e) => `${e.type} ${e.sessionId}`)
    )

    // 1. Loss: every agent text a provider accepted reached hbf-bot, in its session.
    const lost: Array<string> = []
    const phantom: Array<string> = []
    for (const s of ledger.sessions) {
      const delivered = new Set(
        firsts.filter((e) => e.sessionId === s.sessionId && e.type === "agent.message").map(textOf)
      )
      for (const t of ledger.agentAccepted.get(s.sessionId) ?? []) {
        if (!delivered.has(t)) lost.push(`${s.sessionId}: ${t}`)
      }
      for (const t of delivered) {
        if (!isChaosAgentText(t) || !ledger.agentTried.has(t)) phantom.push(`${s.sessionId}: ${String(t)}`)
      }
    }
    add("agent messages lost", lost)
    add("duplicate deliveries (same event id)", duplicates, duplicates.reduce((n, d) => n + d.copies - 1, 0))
    add("agent messages nobody sent (phantoms, malformed bodies)", phantom)

    // 3. Order: per session, seq strictly increasing in arrival order, and no seq missing (the outbox numbers 1, 2, 3…).
    const outOfOrder: Array<string> = []
    const gaps: Array<string> = []
    const stuck: Array<string> = []
    const notEnded: Array<string> = []
    const deadLetters = yield* rig.call("GET", "/admin/dead-letters", undefined, "admin")
    const letters: ReadonlyArray<
      { id: string; event: { sessionId: string; seq: number; type: string }; reason: string }
    > = Array.isArray(deadLetters.body) ? deadLetters.body : []
    for (const s of ledger.sessions) {
      const mine = firsts.filter((e) => e.sessionId === s.sessionId)
      for (let i = 1; i < mine.length; i++) {
        if (mine[i]!.seq <= mine[i - 1]!.seq) {
          outOfOrder.push(`${s.sessionId}: seq ${mine[i]!.seq} after ${mine[i - 1]!.seq}`)
        }
      }
      const admin = yield* rig.call("GET", `/admin/sessions/${s.sessionId}`, undefined, "admin")
      const lastSeq: number = admin.body?.lastSeq ?? Math.max(0, ...mine.map((e) => e.seq))
      const seen = new Set(mine.map((e) => e.seq))
      const missing = Array.from({ length: lastSeq }, (_, i) => i + 1).filter((q) => !seen.has(q))
      if (missing.length > 0) gaps.push(`${s.sessionId}: seq ${missing.join(",")} of ${lastSeq} never delivered`)
      // 4. Ended: the gateway says so, and hbf-bot heard it.
      if (admin.status !== 200 || admin.body?.status !== "ended") {
        stuck.push(
          `${s.sessionId} (${s.provider}): ${admin.status} ${admin.body?.status ?? JSON.stringify(admin.body)}`
        )
      }
      if (!mine.some((e) => e.type === "session.ended")) notEnded.push(`${s.sessionId} (${s.provider})`)
    }
    add("events out of seq order", outOfOrder)
    add("seq gaps (committed, never delivered)", gaps)
    add("sessions still open in the gateway", stuck)
    add("sessions without session.ended at hbf-bot", notEnded)
    const open = yield* rig.call("HEAD", `/organizations/demo-org/requests?status=open`)
    const openCount = Number(open.headers.get("x-total-count") ?? "-1")
    add(
      "open requests (HEAD ?status=open)",
      openCount === 0 ? [] : [`X-Total-Count ${openCount} (HTTP ${open.status})`],
      openCount === 0 ? 0 : Math.max(1, openCount)
    )
    add(
      "dead letters",
      letters.map((l) => `${l.event.sessionId} #${l.event.seq} ${l.event.type}: ${l.reason}`),
      deadLetters.status === 200 ? letters.length : 1
    )

    // 5. Counts per provider: agent messages accepted = delivered; user messages answered 202 = at the provider.
    const userLost: Array<unknown> = []
    for (const d of drivers) {
      const sessions = ledger.sessions.filter((s) => s.provider === d.provider)
      const accepted = sessions.reduce((n, s) => n + (ledger.agentAccepted.get(s.sessionId)?.length ?? 0), 0)
      const deliveredEvents = firsts.filter((e) =>
        e.type === "agent.message" && sessions.some((s) => s.sessionId === e.sessionId)
      )
      const delivered = deliveredEvents.length
      // A provider may give up on a webhook the gateway did take (its answer lost in a kill): delivered, never acknowledged.
      const unacked = deliveredEvents.filter((e) =>
        !(ledger.agentAccepted.get(e.sessionId) ?? []).includes(textOf(e) as string)
      )
        .length
      info(`${d.provider}: agent messages accepted / delivered (unacked)`, accepted, [
        `${accepted} / ${delivered} (${unacked})`
      ])
      if (accepted + unacked !== delivered) {
        add(`${d.provider}: agent message count mismatch`, [
          `${accepted} accepted + ${unacked} unacked != ${delivered} delivered`
        ], 1)
      }
      for (const s of sessions) {
        const atProvider = new Set(d.userTexts(s))
        for (const t of ledger.userAccepted.get(s.sessionId) ?? []) {
          if (!atProvider.has(t)) {
            userLost.push({ sessionId: s.sessionId, text: t, attempts: ledger.userAttempts.get(t) ?? [] })
          }
        }
      }
    }
    add("user messages answered 202 but not at the provider", userLost)
    add(
      "malformed webhooks not answered 4xx",
      malformedAnswers.filter((m) => m.status < 400 || m.status >= 500).map((m) =>
        `${m.provider} ${m.kind}: ${m.status}`
      )
    )

    const summary = {
      sessions: ledger.sessions.length,
      eventsDelivered: firsts.length,
      deliveriesAccepted: events.length,
      agentMessagesAccepted: [...ledger.agentAccepted.values()].reduce((n, l) => n + l.length, 0),
      userMessagesAccepted: [...ledger.userAccepted.values()].reduce((n, l) => n + l.length, 0),
      userMessagesRefused: ledger.userRefused
    }
    return { findings, summary, duplicates, deadLetters: letters }
  })

export const sessionLabel = (s: ChatSession) => `${s.provider}#${s.index} ${s.sessionId}`
