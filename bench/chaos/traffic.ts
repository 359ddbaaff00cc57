/**
 * Steady traffic: sessions for every provider's demo tenant, each with an agent sending
 * numbered messages and a user sending messages through POST /messages, all through the
 * balancer. Everything the providers accepted is recorded here, for the checker.
 */
import { Duration, Effect, Fiber } from "effect"
import { randomBytes } from "node:crypto"
import type { ChatSession, ProviderAlias, ProviderDriver } from "./drivers.js"
import type { Rig } from "./rig.js"

export interface Ledger {
  readonly sessions: Array<ChatSession>
  /** Agent texts the provider accepted (the gateway must deliver each), per session id. */
  readonly agentAccepted: Map<string, Array<string>>
  /** Every agent text tried (accepted or not): a delivered text outside this set is a phantom. */
  readonly agentTried: Set<string>
  /** User texts the gateway answered 202, per session id, and those it never took. */
  readonly userAccepted: Map<string, Array<string>>
  userRefused: number
  /** Each user message's attempts: status, instance, failovers (for diagnosis). */
  readonly userAttempts: Map<string, Array<string>>
  /** How each session was ended. */
  readonly endedBy: Map<string, "user" | "agent">
}

export const newLedger = (): Ledger => ({
  sessions: [],
  agentAccepted: new Map(),
  agentTried: new Set(),
  userAccepted: new Map(),
  userRefused: 0,
  userAttempts: new Map(),
  endedBy: new Map()
})

const push = (map: Map<string, Array<string>>, key: string, value: string) => {
  const list = map.get(key) ?? []
  list.push(value)
  map.set(key, list)
}

const jittered = (ms: number) => Duration.millis(Math.round(ms * (0.5 + Math.random())))

/** POST /requests until the gateway answers with a session (before the faults: a few tries suffice). */
export const openSession = (rig: Rig, driver: ProviderDriver, index: number, runId: string) =>
  Effect.gen(function*() {
    const subHandle = `chaos-${driver.provider}-${index}-${runId}`
    for (let attempt = 0; attempt < 10; attempt++) {
      const r = yield* rig.call("POST", "/requests", {
        tenantId: driver.tenantId,
        subHandle,
        user: { name: `User ${index}` }
      })
      if ((r.status === 200 || r.status === 201) && typeof r.body?.sessionId === "string") {
        const session: ChatSession = {
          provider: driver.provider,
          tenantId: driver.tenantId,
          index,
          subHandle,
          sessionId: r.body.sessionId,
          conversationId: r.body.providerConversationId ?? r.body.sessionId
        }
        return session
      }
      yield* Effect.sleep(Duration.millis(500))
    }
    return yield* Effect.dieMessage(`could not open a ${driver.provider} session`)
  })

export const newRunId = () => randomBytes(3).toString("hex")

/** A user message, retried with the same messageId (idempotent) while the gateway answers 5xx or nothing. */
export const sendUserMessage = (rig: Rig, ledger: Ledger, s: ChatSession, n: number) =>
  Effect.gen(function*() {
    const text = `chaos-user ${s.provider} ${s.index} ${n}`
    const body = { tenantId: s.tenantId, subHandle: s.subHandle, messageId: `chaos-${s.sessionId}-${n}`, text }
    for (let attempt = 0; attempt < 10; attempt++) {
      const sentAt = new Date().toISOString()
      const r = yield* rig.call("POST", "/messages", body)
      const via = r.headers.get("x-chaos-backend")
      const failedOver = r.headers.get("x-chaos-failed-over")
      push(
        ledger.userAttempts,
        text,
        `${sentAt} -> ${r.status} via ${via ?? "-"}${failedOver !== null ? ` after no answer from ${failedOver}` : ""}`
      )
      if (r.status === 202) return push(ledger.userAccepted, s.sessionId, text)
      if (r.status !== 0 && r.status < 500) break // refused for good (e.g. the session ended)
      yield* Effect.sleep(Duration.millis(1_000))
    }
    ledger.userRefused++
  })

/**
 * Runs every session's agent and user loops until `until` (epoch ms): the agent says a
 * numbered message every ~agentMs, the user every ~userMs.
 */
export const runTraffic = (
  rig: Rig,
  ledger: Ledger,
  driverOf: (p: ProviderAlias) => ProviderDriver,
  until: number,
  agentMs: number,
  userMs: number
) =>
  Effect.gen(function*() {
    const agentLoop = (s: ChatSession) =>
      Effect.gen(function*() {
        for (let n = 1; Date.now() < until; n++) {
          const text = `chaos ${s.provider} ${s.index} ${n}`
          ledger.agentTried.add(text)
          if (yield* driverOf(s.provider).say(s, text)) push(ledger.agentAccepted, s.sessionId, text)
          yield* Effect.sleep(jittered(agentMs))
        }
      })
    const userLoop = (s: ChatSession) =>
      Effect.gen(function*() {
        yield* Effect.sleep(jittered(userMs))
        for (let n = 1; Date.now() < until; n++) {
          yield* sendUserMessage(rig, ledger, s, n)
          yield* Effect.sleep(jittered(userMs))
        }
      })
    const fibers = yield* Effect.forEach(ledger.sessions, (s) =>
      Effect.fork(Effect.all([agentLoop(s), userLoop(s)], { concurrency: 2 })))
    yield* Fiber.joinAll(fibers)
  })

/** Records texts a fault made the agent say (reordered webhooks), so the checker expects them too. */
export const recordAgentTexts = (
  ledger: Ledger,
  s: ChatSession,
  tried: ReadonlyArray<string>,
  accepted: ReadonlyArray<string>
) => {
  for (const t of tried) ledger.agentTried.add(t)
  for (const t of accepted) push(ledger.agentAccepted, s.sessionId, t)
}
