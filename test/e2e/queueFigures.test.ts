/**
 * Waiting requests' queue figures and the tenant's warnings end to end: the real gateway against
 * each provider's simulator (docs/ARCHITECTURE.md#queue-figures, docs/CONTRACTS.md#hbf-bot).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { demoGenesys } from "../../sandbox/demoTenants.js"
import { eventually } from "../eventually.js"
import { type Gateway, livechatRequest, startGateway, stores } from "./harness.js"

/** Small intervals: figures at most every 300 ms, polled providers every 200 ms. */
const startQueueGateway = (store: (typeof stores)[number], options: Parameters<typeof startGateway>[0] = {}) =>
  startGateway({
    store,
    ...options,
    configure: (config) => ({
      ...config,
      queueUpdateInterval: Duration.millis(300),
      ciscoPollIntervalMs: 200,
      zendeskPollIntervalMs: 200
    })
  })

interface Created {
  readonly sessionId: string
  readonly providerConversationId: string
}

/** Each provider's demo tenant, and how its simulated agent takes a request. */
const providers: ReadonlyArray<{
  readonly tenantId: string
  readonly take: (gw: Gateway, created: Created) => Effect.Effect<unknown, unknown>
}> = [
  { tenantId: "demo-helvia", take: (gw, created) => gw.lcm.join(created.sessionId) },
  {
    tenantId: "demo-genesys",
    take: (gw, created) => gw.genesys.agentJoin(created.providerConversationId, { userId: "agent-1", name: "Maria" })
  },
  { tenantId: "demo-cisco", take: (gw, created) => gw.cisco.agentJoin(created.providerConversationId, "Maria") },
  // Sunshine announces no join: the agent's first message is it.
  {
    tenantId: "demo-zendesk",
    take: (gw, created) => gw.zendesk.agentSay(created.providerConversationId, "Hi, I am Maria")
  }
]

const open = (gw: Gateway, tenantId: string, subHandle: string) =>
  Effect.map(gw.call("POST", "/requests", livechatRequest(tenantId, subHandle)), (created) => {
    expect(created.status).toBe(201)
    return created.body as Created
  })

type Figures = { readonly position?: number; readonly estimatedWaitSeconds?: number; readonly source?: string }

/** The figures of every `request.queued` hbf-bot received for the session, in order. */
const queuedOf = (gw: Gateway, sessionId: string): ReadonlyArray<Figures> =>
  gw.bot.eventsOf(sessionId).filter((e) => e.type === "request.queued").map((e) => e.data as Figures)

const positionsOf = (gw: Gateway, sessionId: string) => queuedOf(gw, sessionId).map((f) => f.position)

describe.each(stores)("%s store", (store) => {
  describe.each(providers)("$tenantId", ({ take, tenantId }) => {
    it.live(
      "three waiting requests are told positions 1, 2, 3; then 1, 2 once the first is taken by an agent",
      () =>
        Effect.gen(function*() {
          const gw = yield* startQueueGateway(store)
          const created: Array<Created> = []
          for (const sub of ["ann", "ben", "cat"]) created.push(yield* open(gw, tenantId, `${sub}-${tenantId}`))
          const [first, second, third] = created.map((c) => c.sessionId) as [string, string, string]
          yield* eventually(
            "each request's first figures",
            Effect.sync(() => created.map((c) => positionsOf(gw, c.sessionId))),
            (positions) => positions.every((p) => p.length > 0)
          )
          expect(created.map((c) => positionsOf(gw, c.sessionId))).toEqual([[1], [2], [3]])
          // The state shows the latest figures.
          const state = yield* gw.call("GET", `/subscribers/ben-${tenantId}/livechat-state`)
          expect(state.body).toMatchObject({ state: "pending", session: { position: 2 } })

          yield* take(gw, created[0]!)
          yield* eventually(
            "the figures after the first was taken",
            Effect.sync(() => [positionsOf(gw, second), positionsOf(gw, third)]),
            ([b, c]) => b!.at(-1) === 1 && c!.at(-1) === 2
          )
          expect([positionsOf(gw, second), positionsOf(gw, third)]).toEqual([[2, 1], [3, 2]])
          // The one taken is told nothing more of the queue.
          yield* Effect.sleep(Duration.millis(800))
          expect(positionsOf(gw, first)).toEqual([1])
          expect((yield* gw.call("GET", `/subscribers/ann-${tenantId}/livechat-state`)).body.session.position)
            .toBeUndefined()
        }).pipe(Effect.scoped),
      30_000
    )
  })
})

describe("Genesys' own estimate", () => {
  it.live(
    "Genesys' estimated wait goes out as the provider's, with the gateway's position; without one, the gateway's figures",
    () =>
      Effect.gen(function*() {
        const gw = yield* startQueueGateway("memory")
        const { sessionId } = yield* open(gw, "demo-genesys", "gina")
        // The sandbox's demo queue reports 45 s.
        yield* eventually("the first figures", Effect.sync(() => queuedOf(gw, sessionId)), (q) => q.length > 0)
        expect(queuedOf(gw, sessionId)).toEqual([{ position: 1, estimatedWaitSeconds: 45, source: "provider" }])
        const state = yield* gw.call("GET", "/subscribers/gina/livechat-state")
        expect(state.body.session).toMatchObject({ position: 1, estimatedWaitSeconds: 45, queueSource: "provider" })

        yield* gw.genesys.setEstimatedWait(demoGenesys.queueId, 120)
        yield* eventually("the new estimate", Effect.sync(() => queuedOf(gw, sessionId)), (q) => q.length > 1)
        expect(queuedOf(gw, sessionId)[1]).toEqual({ position: 1, estimatedWaitSeconds: 120, source: "provider" })
        // A move under 20% is no news.
        yield* gw.genesys.setEstimatedWait(demoGenesys.queueId, 130)
        yield* Effect.sleep(Duration.millis(1_000))
        expect(queuedOf(gw, sessionId)).toHaveLength(2)
        // Genesys cannot estimate: the gateway's figures, with no history of the tenant, are the position alone.
        yield* gw.genesys.setEstimatedWait(demoGenesys.queueId, null)
        yield* eventually("the gateway's figures", Effect.sync(() => queuedOf(gw, sessionId)), (q) => q.length > 2)
        expect(queuedOf(gw, sessionId)[2]).toEqual({ position: 1, source: "gateway" })
      }).pipe(Effect.scoped),
    30_000
  )
})

describe("availability's estimate", () => {
  it.live(
    "where the provider tells no wait, availability gives the gateway's for a request made now, once there is history, and says so",
    () =>
      Effect.gen(function*() {
        const gw = yield* startQueueGateway("memory")
        const availability = () =>
          Effect.map(gw.call("GET", "/tenants/demo-helvia/availability"), (a) => a.body as Record<string, any>)
        // No history: no figure, never a made-up one.
        const before = yield* availability()
        expect(before.estimatedWaitSeconds).toBeUndefined()
        expect(before.sources).toBeUndefined()
        for (const sub of ["hal", "hope", "huw"]) {
          const created = yield* open(gw, "demo-helvia", sub)
          yield* gw.lcm.join(created.sessionId)
        }
        yield* open(gw, "demo-helvia", "ida")
        const after = yield* availability()
        // Three assignments in the last 15 minutes; one request waiting: a new one is second, 2 x 900 / 3.
        expect(after).toMatchObject({
          available: true,
          estimatedWaitSeconds: 600,
          sources: { estimatedWaitSeconds: "gateway" }
        })
        // Genesys tells its own: the provider's, named so.
        const genesys = yield* Effect.map(gw.call("GET", "/tenants/demo-genesys/availability"), (a) => a.body)
        expect(genesys).toMatchObject({ estimatedWaitSeconds: 45, sources: { estimatedWaitSeconds: "provider" } })
      }).pipe(Effect.scoped),
    30_000
  )
})

/** A helvia tenant warned after 1 s of waiting, and 2 s before its 3-second inactivity close. */
const warnedTenant = {
  id: "warned",
  displayName: "Warned",
  organization: { id: "demo-org" },
  plugins: [
    {
      category: "LIVECHAT",
      integrationId: "int-warned",
      integration: {
        type: "HELVIA_LIVECHAT",
        timeouts: { pendingSeconds: 60, inactivitySeconds: 3, waitWarningSeconds: 1, inactivityWarningSeconds: 2 },
        helvia: { webhookSecret: "warned-secret" }
      }
    }
  ]
}

const typesOf = (gw: Gateway, sessionId: string) => gw.bot.eventsOf(sessionId).map((e) => e.type)

describe.each(stores)("warnings, %s store", (store) => {
  it.live(
    "a wait warning once; an inactivity warning, then the inactivity close at the time it said",
    () =>
      Effect.gen(function*() {
        const gw = yield* startQueueGateway(store)
        gw.setTenant(warnedTenant)
        const { sessionId } = yield* open(gw, "warned", "wendy")
        yield* eventually(
          "the wait warning",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("request.wait-warning")
        )
        const warning = gw.bot.eventsOf(sessionId).find((e) => e.type === "request.wait-warning")!
        expect(warning.data).toMatchObject({ waitedSeconds: 1, position: 1 })
        yield* Effect.sleep(Duration.millis(1_000))
        expect(typesOf(gw, sessionId).filter((t) => t === "request.wait-warning")).toHaveLength(1)

        yield* gw.lcm.join(sessionId)
        const ended = yield* gw.bot.waitFor(
          (events) => events.some((e) => e.sessionId === sessionId && e.type === "session.ended"),
          "8 seconds"
        )
        const ofSession = ended.filter((e) => e.sessionId === sessionId)
        expect(ofSession.map((e) => e.type).filter((t) => t !== "request.queued")).toEqual([
          "request.wait-warning",
          "agent.joined",
          "session.inactivity-warning",
          "session.ended"
        ])
        const idle = ofSession.find((e) => e.type === "session.inactivity-warning")!
        const close = ofSession.find((e) => e.type === "session.ended")!
        expect(close.data).toEqual({ reason: "inactivity" })
        const endsAt = Date.parse((idle.data as { endsAt: string }).endsAt)
        // Warned about 2 s before the close, which came at the time it named (within a sweep).
        expect(endsAt - Date.parse(idle.occurredAt)).toBeGreaterThan(1_500)
        expect(Math.abs(Date.parse(close.occurredAt) - endsAt)).toBeLessThan(1_000)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a user message cancels the inactivity warning: no close at the time it named, and a warning for the new idle stretch",
    () =>
      Effect.gen(function*() {
        const gw = yield* startQueueGateway(store)
        gw.setTenant(warnedTenant)
        const { sessionId } = yield* open(gw, "warned", "walt")
        yield* gw.lcm.join(sessionId)
        yield* eventually(
          "the inactivity warning",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("session.inactivity-warning")
        )
        const first = gw.bot.eventsOf(sessionId).find((e) => e.type === "session.inactivity-warning")!
        const firstEndsAt = Date.parse((first.data as { endsAt: string }).endsAt)
        const sent = yield* gw.call("POST", "/messages", {
          tenantId: "warned",
          subHandle: "walt",
          messageId: "m1",
          text: "still here"
        })
        expect(sent.status).toBe(202)
        // Past the time the first warning named: still open.
        yield* Effect.sleep(Duration.millis(Math.max(0, firstEndsAt - Date.now()) + 500))
        expect((yield* gw.call("GET", "/subscribers/walt/livechat-state")).body.state).toBe("active")
        const events = yield* gw.bot.waitFor(
          (es) => es.some((e) => e.sessionId === sessionId && e.type === "session.ended"),
          "8 seconds"
        )
        const warnings = events.filter((e) => e.sessionId === sessionId && e.type === "session.inactivity-warning")
        expect(warnings).toHaveLength(2)
        expect(Date.parse((warnings[1]!.data as { endsAt: string }).endsAt)).toBeGreaterThan(firstEndsAt)
      }).pipe(Effect.scoped),
    30_000
  )
})
