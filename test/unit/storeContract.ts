/**
 * The contract every SessionStore + Outbox implementation must honour. Run it against
 * each implementation: `storeContract("memory", (retention) => MemoryStoreLive({ partitions: 4, ...retention }), "test")`.
 * Each test gets a fresh layer. Outbox partitions are assumed to be 4.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, type Layer, Option, Stream, TestClock } from "effect"
import type { LivechatEvent, SessionRecord } from "../../src/domain/model.js"
import { type DeadLetter, Outbox, partitionOf } from "../../src/services/Outbox.js"
import { type OpenSessionsCursor, SessionStore, WEBHOOK_SOURCE_TENANTS } from "../../src/services/SessionStore.js"

export const PARTITIONS = 4

let counter = 0
const uniq = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`

const T0 = Date.parse("2026-01-01T10:00:00.000Z")
const iso = (ms: number) => new Date(ms).toISOString()

export const makeRecord = (overrides: Partial<SessionRecord> = {}): SessionRecord => ({
  sessionId: uniq("sess"),
  tenantId: "t1",
  organizationId: "org1",
  subHandle: uniq("sub"),
  provider: "helvia-livechat",
  status: "pending",
  createdAt: iso(T0),
  lastActivityAt: iso(T0),
  version: 0,
  lastSeq: 0,
  ...overrides
})

/** The record with `changes` applied and the version bumped. */
const bumped = (record: SessionRecord, changes: Partial<SessionRecord>): SessionRecord => ({
  ...record,
  ...changes,
  version: record.version + 1
})

export const makeEvent = (session: SessionRecord, seq: number, id = uniq("evt")): LivechatEvent => ({
  id,
  sessionId: session.sessionId,
  tenantId: session.tenantId,
  organizationId: session.organizationId,
  subHandle: session.subHandle,
  provider: session.provider,
  seq,
  occurredAt: iso(T0 + seq * 1000),
  type: "agent.message",
  data: { text: `message ${seq}` }
})

const take = (partition: number, n: number) =>
  Effect.flatMap(
    Outbox,
    (outbox) => outbox.consume(partition).pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
  )

/** A subscriber's first session, ended, and their second one, created after it. */
const endedThenNew = Effect.gen(function*() {
  const store = yield* SessionStore
  const first = makeRecord()
  yield* store.create(first)
  const ended = bumped(first, { status: "ended", endedAt: iso(T0 + 1000), endReason: "user" })
  expect(yield* store.commit({ expectedVersion: 0, next: ended })).toBe("committed")
  const second = makeRecord({ subHandle: first.subHandle })
  expect(yield* store.create(second)).toEqual({ _tag: "Created" })
  return { first, ended, second }
})

export interface Retention {
  readonly endedRetention: Duration.Duration
  readonly dedupRetention: Duration.Duration
}

/**
 * `makeLayer` builds the store with the retention given (the configuration's defaults without);
 * `clock` is the clock its retention runs on: the Effect clock (`test`: TestClock lets days
 * pass at once) or the store's own (`live`: Redis expires keys in real time, so the retention
 * test waits seconds).
 */
/**
 * How a store's index of a tenant's open sessions can be left stale, as an older version (which
 * changed sessions without it) leaves it: for the stores that can be (Redis), so the contract
 * checks that pages stay full and the stale members go.
 */
export interface StaleOpenIndex {
  /** Lists the session in its tenant's index of `status` by hand. */
  readonly plant: (session: SessionRecord, status: "pending" | "active") => Effect.Effect<void>
  /** Whether the session is listed in that index. */
  readonly listed: (session: SessionRecord, status: "pending" | "active") => Effect.Effect<boolean>
}

export const storeContract = (
  name: string,
  makeLayer: (retention?: Retention) => Layer.Layer<SessionStore | Outbox, unknown>,
  clock: "test" | "live",
  staleOpenIndex?: StaleOpenIndex
) =>
  describe(`store contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, SessionStore | Outbox>) => Effect.provide(effect, makeLayer())

    describe("create", () => {
      it.scoped("refuses a second open session for the same subscriber", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const first = makeRecord()
            expect(yield* store.create(first)).toEqual({ _tag: "Created" })
            const second = makeRecord({ subHandle: first.subHandle, tenantId: "t2" })
            const result = yield* store.create(second)
            expect(result._tag).toBe("Open")
            if (result._tag === "Open") expect(result.existing.sessionId).toBe(first.sessionId)
            expect(Option.isNone(yield* store.get(second.sessionId))).toBe(true)
            expect(Option.map(yield* store.latestBySubscriber(first.subHandle), (s) => s.sessionId)).toEqual(
              Option.some(first.sessionId)
            )
          })
        ))

      it.scoped("a confined session is its tenant's alone: it neither holds the subscriber elsewhere nor is held", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const platform = makeRecord({ tenantId: "t1" })
            expect(yield* store.create(platform)).toEqual({ _tag: "Created" })
            // A confined session of another tenant: created, though a platform session is open.
            const confined = makeRecord({ subHandle: platform.subHandle, tenantId: "t2", confined: true })
            expect(yield* store.create(confined)).toEqual({ _tag: "Created" })
            // A second one in its own tenant is refused, with the tenant's open session.
            const again = yield* store.create(
              makeRecord({ subHandle: platform.subHandle, tenantId: "t2", confined: true })
            )
            expect(again._tag === "Open" && again.existing.sessionId).toBe(confined.sessionId)
            // A platform session in a third tenant is held by the platform one, not by the confined one.
            const third = yield* store.create(makeRecord({ subHandle: platform.subHandle, tenantId: "t3" }))
            expect(third._tag === "Open" && third.existing.sessionId).toBe(platform.sessionId)
            // Look-ups: per tenant, and without a tenant the latest session not confined.
            const idOf = (found: Option.Option<SessionRecord>) => Option.map(found, (s) => s.sessionId)
            expect(idOf(yield* store.latestBySubscriber(platform.subHandle))).toEqual(Option.some(platform.sessionId))
            expect(idOf(yield* store.latestBySubscriber(platform.subHandle, "t1"))).toEqual(
              Option.some(platform.sessionId)
            )
            expect(idOf(yield* store.latestBySubscriber(platform.subHandle, "t2"))).toEqual(
              Option.some(confined.sessionId)
            )
            expect(idOf(yield* store.latestBySubscriber(platform.subHandle, "t3"))).toEqual(Option.none())
            const claimed = yield* store.reserveSubscriberMessage(platform.subHandle, "t2", "m1", "fp")
            expect(Option.map(claimed, (c) => c.session.sessionId)).toEqual(Option.some(confined.sessionId))
            // Once the platform session ended, a confined one never holds a platform request.
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(platform, { status: "ended", endReason: "user", endedAt: iso(T0) })
            })
            expect(yield* store.create(makeRecord({ subHandle: platform.subHandle, tenantId: "t3" }))).toEqual({
              _tag: "Created"
            })
          })
        ))

      it.scoped("allows a new session once the first has ended", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const { first, second } = yield* endedThenNew
            expect(Option.map(yield* store.latestBySubscriber(first.subHandle), (s) => s.sessionId)).toEqual(
              Option.some(second.sessionId)
            )
            expect(Option.map(yield* store.get(first.sessionId), (s) => s.status)).toEqual(Option.some("ended"))
          })
        ))
    })

    describe("commit", () => {
      it.scoped("a late change to an ended session keeps the subscriber's newer session as latest", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const { ended, first, second } = yield* endedThenNew
            expect(yield* store.commit({ expectedVersion: 1, next: bumped(ended, {}), seen: [uniq("late")] })).toBe(
              "committed"
            )
            expect(Option.map(yield* store.latestBySubscriber(first.subHandle), (s) => s.sessionId)).toEqual(
              Option.some(second.sessionId)
            )
          })
        ))

      it.scoped("is a compare-and-set on version", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            const v1 = bumped(record, { lastActivityAt: iso(T0 + 1000) })
            expect(yield* store.commit({ expectedVersion: 0, next: v1 })).toBe("committed")
            const stale = bumped(record, { lastActivityAt: iso(T0 + 2000) })
            expect(yield* store.commit({ expectedVersion: 0, next: stale })).toBe("conflict")
            const got = yield* store.get(record.sessionId)
            expect(Option.map(got, (s) => [s.version, s.lastActivityAt])).toEqual(Option.some([1, iso(T0 + 1000)]))
          })
        ))

      it.scoped("a commit for an unknown session is a conflict", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            expect(yield* store.commit({ expectedVersion: 0, next: bumped(makeRecord(), {}) })).toBe("conflict")
          })
        ))

      it.scoped("refuses already seen ids as duplicate and applies nothing", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            const e1 = makeEvent(record, 1)
            const v1 = bumped(record, { lastSeq: 1 })
            expect(yield* store.commit({ expectedVersion: 0, next: v1, seen: [e1.id], events: [e1] })).toBe("committed")
            expect(yield* store.seen(record.sessionId, [e1.id, "never"])).toEqual(new Set([e1.id]))

            const e2 = makeEvent(v1, 2)
            const v2 = bumped(v1, { lastSeq: 2, status: "active", assignedAt: iso(T0 + 5000) })
            const result = yield* store.commit({ expectedVersion: 1, next: v2, seen: [e2.id, e1.id], events: [e2] })
            expect(result).toBe("duplicate")
            expect(Option.map(yield* store.get(record.sessionId), (s) => [s.version, s.status])).toEqual(
              Option.some([1, "pending"])
            )
            // e2 was not marked seen, and not appended.
            expect((yield* store.seen(record.sessionId, [e2.id])).size).toBe(0)
            const delivered = yield* take(partitionOf(record.sessionId, PARTITIONS), 1)
            expect(delivered.map((e) => e.event.id)).toEqual([e1.id])
            expect(yield* store.count(record.organizationId, "active")).toBe(0)
          })
        ))
    })

    describe("outbox", () => {
      it.scoped("delivers appended events in order in the session's partition", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            const events = [1, 2, 3].map((seq) => makeEvent(record, seq))
            const v1 = bumped(record, { lastSeq: 2 })
            yield* store.commit({ expectedVersion: 0, next: v1, events: events.slice(0, 2) })
            yield* store.commit({ expectedVersion: 1, next: bumped(v1, { lastSeq: 3 }), events: events.slice(2) })
            const partition = partitionOf(record.sessionId, PARTITIONS)
            const entries = yield* take(partition, 3)
            expect(entries.map((e) => e.event)).toEqual(events)
            expect(entries.every((e) => e.partition === partition)).toBe(true)
            expect(entries.every((e) => e.targets === undefined)).toBe(true)
          })
        ))

      it.scoped("delivers events appended after consumption started", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const outbox = yield* Outbox
            const record = makeRecord()
            yield* store.create(record)
            const partition = partitionOf(record.sessionId, PARTITIONS)
            const fiber = yield* outbox
              .consume(partition)
              .pipe(Stream.take(2), Stream.runCollect, Effect.fork)
            for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
            const events = [1, 2].map((seq) => makeEvent(record, seq))
            yield* store.commit({ expectedVersion: 0, next: bumped(record, { lastSeq: 1 }), events: [events[0]!] })
            const v1 = bumped(record, { lastSeq: 1 })
            yield* store.commit({ expectedVersion: 1, next: bumped(v1, { lastSeq: 2 }), events: [events[1]!] })
            const entries = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
            expect(entries.map((e) => e.event.id)).toEqual(events.map((e) => e.id))
          })
        ))

      it.scoped("does not re-deliver acked entries on a fresh consume, re-delivers unacked ones", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const outbox = yield* Outbox
            const record = makeRecord()
            yield* store.create(record)
            const events = [1, 2, 3].map((seq) => makeEvent(record, seq))
            yield* store.commit({ expectedVersion: 0, next: bumped(record, { lastSeq: 3 }), events })
            const partition = partitionOf(record.sessionId, PARTITIONS)
            const first = yield* take(partition, 3)
            yield* outbox.ack(first[0]!)
            yield* outbox.ack(first[2]!)
            const again = yield* take(partition, 1)
            expect(again.map((e) => e.event.id)).toEqual([events[1]!.id])
            expect(again[0]!.id).toBe(first[1]!.id)
          })
        ))

      it.scoped("dead letters are listed and replayed for their target only", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const outbox = yield* Outbox
            const record = makeRecord()
            yield* store.create(record)
            const event = makeEvent(record, 1)
            yield* store.commit({ expectedVersion: 0, next: bumped(record, { lastSeq: 1 }), events: [event] })
            const partition = partitionOf(record.sessionId, PARTITIONS)
            const [entry] = yield* take(partition, 1)
            yield* outbox.ack(entry!)
            const letter: DeadLetter = {
              id: uniq("dl"),
              event,
              target: "event-publisher",
              reason: "HTTP 500",
              attempts: 5,
              failedAt: iso(T0 + 60_000)
            }
            yield* outbox.deadLetter(letter)
            expect(yield* outbox.deadLetters).toEqual([letter])

            expect(yield* outbox.replay(letter.id)).toEqual(letter)
            expect(yield* outbox.deadLetters).toEqual([])
            const [replayed] = yield* take(partition, 1)
            expect(replayed!.event).toEqual(event)
            expect(replayed!.targets).toEqual(["event-publisher"])
            expect(replayed!.partition).toBe(partition)

            const again = yield* Effect.exit(outbox.replay(letter.id))
            expect(Exit.isFailure(again)).toBe(true)
            const unknown = yield* Effect.flip(outbox.replay("no-such-letter"))
            expect(unknown._tag).toBe("DeadLetterNotFound")
          })
        ))
    })

    describe("counts and stats", () => {
      it.scoped("counts by organization and status move with commits", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const org = uniq("org")
            const counts = Effect.all({
              pending: store.count(org, "pending"),
              active: store.count(org, "active"),
              ended: store.count(org, "ended"),
              open: store.count(org, "open")
            })
            const a = makeRecord({ organizationId: org })
            const b = makeRecord({ organizationId: org })
            yield* store.create(a)
            yield* store.create(b)
            yield* store.create(makeRecord({ organizationId: uniq("other-org") }))
            expect(yield* counts).toEqual({ pending: 2, active: 0, ended: 0, open: 2 })

            const aActive = bumped(a, { status: "active", assignedAt: iso(T0 + 1000) })
            yield* store.commit({ expectedVersion: 0, next: aActive })
            expect(yield* counts).toEqual({ pending: 1, active: 1, ended: 0, open: 2 })

            // A change that keeps the status does not move the counts.
            yield* store.commit({ expectedVersion: 1, next: bumped(aActive, { lastActivityAt: iso(T0 + 2000) }) })
            expect(yield* counts).toEqual({ pending: 1, active: 1, ended: 0, open: 2 })

            yield* store.commit({
              expectedVersion: 0,
              next: bumped(b, { status: "ended", endReason: "user", endedAt: iso(T0) })
            })
            expect(yield* counts).toEqual({ pending: 0, active: 1, ended: 1, open: 1 })
          })
        ))

      it.scoped("counts of some tenants take only those tenants' sessions in the organization", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const org = uniq("org")
            const countsOf = (tenants: ReadonlyArray<string>) =>
              Effect.all({
                pending: store.count(org, "pending", tenants),
                active: store.count(org, "active", tenants),
                ended: store.count(org, "ended", tenants),
                open: store.count(org, "open", tenants)
              })
            const mine = makeRecord({ organizationId: org, tenantId: "mine" })
            const theirs = makeRecord({ organizationId: org, tenantId: "theirs" })
            yield* store.create(mine)
            yield* store.create(theirs)
            yield* store.create(makeRecord({ organizationId: org, tenantId: "theirs" }))
            // The same tenant id in another organization is not counted for this one.
            yield* store.create(makeRecord({ organizationId: uniq("other-org"), tenantId: "mine" }))
            expect(yield* countsOf(["mine"])).toEqual({ pending: 1, active: 0, ended: 0, open: 1 })
            expect(yield* countsOf(["theirs"])).toEqual({ pending: 2, active: 0, ended: 0, open: 2 })
            expect(yield* countsOf(["mine", "theirs"])).toEqual({ pending: 3, active: 0, ended: 0, open: 3 })
            expect(yield* countsOf([])).toEqual({ pending: 0, active: 0, ended: 0, open: 0 })

            const mineActive = bumped(mine, { status: "active", assignedAt: iso(T0 + 1000) })
            yield* store.commit({ expectedVersion: 0, next: mineActive })
            yield* store.commit({
              expectedVersion: 1,
              next: bumped(mineActive, { status: "ended", endReason: "agent", endedAt: iso(T0 + 2000) })
            })
            expect(yield* countsOf(["mine"])).toEqual({ pending: 0, active: 0, ended: 1, open: 0 })
            expect(yield* countsOf(["theirs"])).toEqual({ pending: 2, active: 0, ended: 0, open: 2 })
            expect(yield* store.count(org, "ended")).toBe(1)
          })
        ))

      it.scoped("waitingStats averages assignedAt - createdAt over the window and counts pending", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const tenant = uniq("tenant")
            const a = makeRecord({ tenantId: tenant })
            const b = makeRecord({ tenantId: tenant })
            const c = makeRecord({ tenantId: tenant })
            yield* store.create(a)
            yield* store.create(b)
            yield* store.create(c)
            expect(yield* store.waitingStats(tenant, T0 - 1000)).toEqual({ averageSeconds: 0, assigned: 0, pending: 3 })

            yield* store.commit({
              expectedVersion: 0,
              next: bumped(a, { status: "active", assignedAt: iso(T0 + 10_000) })
            })
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(b, { status: "active", assignedAt: iso(T0 + 30_000) })
            })
            expect(yield* store.waitingStats(tenant, T0)).toEqual({ averageSeconds: 20, assigned: 2, pending: 1 })
            // Only assignments since the window's start count.
            expect(yield* store.waitingStats(tenant, T0 + 20_000)).toEqual({
              averageSeconds: 30,
              assigned: 1,
              pending: 1
            })
            expect(yield* store.waitingStats(uniq("tenant"), T0)).toEqual({
              averageSeconds: 0,
              assigned: 0,
              pending: 0
            })
          })
        ))

      it.scoped("openSessions lists a partition's pending and active sessions only", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const a = makeRecord()
            const b = makeRecord()
            yield* store.create(a)
            yield* store.create(b)
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(b, { status: "ended", endReason: "user", endedAt: iso(T0) })
            })
            const openIn = (record: SessionRecord) =>
              Effect.map(
                store.openSessions(partitionOf(record.sessionId, PARTITIONS)),
                (open) => open.map((s) => s.sessionId)
              )
            expect(yield* openIn(a)).toContain(a.sessionId)
            expect(yield* openIn(b)).not.toContain(b.sessionId)
            // Each partition lists its own sessions only.
            const other = (partitionOf(a.sessionId, PARTITIONS) + 1) % PARTITIONS
            expect((yield* store.openSessions(other)).map((s) => s.sessionId)).not.toContain(a.sessionId)
          })
        ))
    })

    describe("queue positions", () => {
      it.scoped("ranks a tenant's pending sessions of one queue by creation time, across their changes", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const tenantId = uniq("tenant")
            const position = (s: SessionRecord) => Effect.map(store.queuePosition(s), Option.getOrUndefined)
            // Created out of order: the position follows createdAt, not the order of creation.
            const second = makeRecord({ tenantId, queue: "billing", createdAt: iso(T0 + 2000) })
            const first = makeRecord({ tenantId, queue: "billing", createdAt: iso(T0 + 1000) })
            const third = makeRecord({ tenantId, queue: "billing", createdAt: iso(T0 + 3000) })
            for (const s of [second, first, third]) yield* store.create(s)
            // Other queues and tenants rank apart.
            const otherQueue = makeRecord({ tenantId, createdAt: iso(T0) })
            const otherTenant = makeRecord({ tenantId: uniq("tenant"), queue: "billing", createdAt: iso(T0) })
            yield* store.create(otherQueue)
            yield* store.create(otherTenant)
            expect([yield* position(first), yield* position(second), yield* position(third)]).toEqual([1, 2, 3])
            expect([yield* position(otherQueue), yield* position(otherTenant)]).toEqual([1, 1])

            // A change that keeps it pending keeps its place; taken by an agent, it leaves the queue.
            yield* store.commit({ expectedVersion: 0, next: bumped(second, { position: 2 }) })
            const firstActive = bumped(first, { status: "active", assignedAt: iso(T0 + 4000) })
            yield* store.commit({ expectedVersion: 0, next: firstActive })
            expect([yield* position(first), yield* position(second), yield* position(third)]).toEqual([
              undefined,
              1,
              2
            ])
            // Handed back to the queue: in again, at its creation time.
            yield* store.commit({ expectedVersion: 1, next: bumped(firstActive, { status: "pending" }) })
            expect(yield* position(first)).toBe(1)
            // Ended: out for good.
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(third, { status: "ended", endReason: "user", endedAt: iso(T0 + 5000) })
            })
            expect(yield* position(third)).toBeUndefined()
            expect(yield* position(second)).toBe(2)
          })
        ))
    })

    describe("open sessions of a tenant", () => {
      it.scoped("pages them oldest first by status, neither skipping nor repeating one that ends between pages", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const tenantId = uniq("tenant")
            // Created out of order, two of them in the same millisecond (then ordered by id).
            const [a, b, c, d, e] = [1000, 2000, 2000, 3000, 4000].map((ms, i) =>
              makeRecord({ tenantId, sessionId: `${uniq("s")}-${i}`, createdAt: iso(T0 + ms) })
            ) as [SessionRecord, SessionRecord, SessionRecord, SessionRecord, SessionRecord]
            const [sameMs1, sameMs2] = [b, c].sort((x, y) => (x.sessionId < y.sessionId ? -1 : 1)) as [
              SessionRecord,
              SessionRecord
            ]
            for (const s of [e, c, a, d, b]) yield* store.create(s)
            yield* store.create(makeRecord({ tenantId: uniq("tenant"), createdAt: iso(T0) }))
            const dActive = bumped(d, { status: "active", assignedAt: iso(T0 + 5000) })
            yield* store.commit({ expectedVersion: 0, next: dActive })
            const idsOf = (page: { sessions: ReadonlyArray<SessionRecord> }) => page.sessions.map((s) => s.sessionId)

            const first = yield* store.openSessionsOfTenant(tenantId, "open", undefined, 2)
            expect(idsOf(first)).toEqual([a.sessionId, sameMs1.sessionId])
            expect(first.next).toEqual({ createdAtMs: T0 + 2000, sessionId: sameMs1.sessionId })
            // The page's last session ends before the next page is read: the next one starts right after it.
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(sameMs1, { status: "ended", endReason: "user", endedAt: iso(T0 + 6000) })
            })
            const second = yield* store.openSessionsOfTenant(tenantId, "open", first.next, 2)
            expect(idsOf(second)).toEqual([sameMs2.sessionId, d.sessionId])
            expect(second.sessions[1]).toMatchObject({ status: "active", version: 1 })
            const last = yield* store.openSessionsOfTenant(tenantId, "open", second.next, 2)
            expect(idsOf(last)).toEqual([e.sessionId])
            expect(last.next).toBeUndefined()

            expect(idsOf(yield* store.openSessionsOfTenant(tenantId, "pending", undefined, 10))).toEqual([
              a.sessionId,
              sameMs2.sessionId,
              e.sessionId
            ])
            expect(idsOf(yield* store.openSessionsOfTenant(tenantId, "active", undefined, 10))).toEqual([d.sessionId])
            // Handed back to the queue: pending again, in its place by creation.
            yield* store.commit({ expectedVersion: 1, next: bumped(dActive, { status: "pending" }) })
            expect(idsOf(yield* store.openSessionsOfTenant(tenantId, "pending", undefined, 10))).toEqual([
              a.sessionId,
              sameMs2.sessionId,
              d.sessionId,
              e.sessionId
            ])
            expect((yield* store.openSessionsOfTenant(tenantId, "active", undefined, 10)).sessions).toEqual([])
            // A page exactly as long as what is left is the last one.
            const exact = yield* store.openSessionsOfTenant(tenantId, "pending", undefined, 4)
            expect(exact.sessions.length).toBe(4)
            expect(exact.next).toBeUndefined()
            expect((yield* store.openSessionsOfTenant(uniq("tenant"), "open", undefined, 10)).sessions).toEqual([])
          })
        ))
    })

    describe("open sessions of a tenant, with an index an older version left stale", () => {
      it.scoped("pages are full: members of sessions gone or in another status are dropped as they are met", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const tenantId = uniq("tenant")
            const at = (ms: number, status: SessionRecord["status"] = "pending") =>
              makeRecord({ tenantId, createdAt: iso(T0 + ms), status })
            const [a, b, c] = [1000, 2000, 3000].map((ms) => at(ms))
            for (const s of [a!, b!, c!]) yield* store.create(s)
            // Taken by an older version: active, yet still in the pending index.
            const taken = at(1500)
            yield* store.create(taken)
            yield* store.commit({ expectedVersion: 0, next: bumped(taken, { status: "active" }) })
            // Gone (ended and expired under an older version), still in the pending index: before a, and many.
            const gone = Array.from({ length: 12 }, (_, i) => at(100 + i))
            if (staleOpenIndex !== undefined) {
              yield* staleOpenIndex.plant(taken, "pending")
              for (const g of gone) yield* staleOpenIndex.plant(g, "pending")
            }
            const idsOf = (page: { sessions: ReadonlyArray<SessionRecord> }) => page.sessions.map((s) => s.sessionId)

            // A page reads past stale members, up to 4 × (limit + 1) of them: one of limit 1 may
            // come back short, with a `next` that neither skips nor repeats a session.
            const seen: Array<string> = []
            let next: OpenSessionsCursor | undefined
            for (let pages = 0; pages < 10; pages++) {
              const page = yield* store.openSessionsOfTenant(tenantId, "pending", next, 1)
              for (const id of idsOf(page)) seen.push(id)
              next = page.next
              if (next === undefined) break
            }
            expect(seen).toEqual([a!.sessionId, b!.sessionId, c!.sessionId])
            // The stale members are gone: a page of 2 is full.
            const full = yield* store.openSessionsOfTenant(tenantId, "pending", undefined, 2)
            expect(idsOf(full)).toEqual([a!.sessionId, b!.sessionId])
            expect(full.next).toEqual({ createdAtMs: T0 + 2000, sessionId: b!.sessionId })
            expect(idsOf(yield* store.openSessionsOfTenant(tenantId, "open", undefined, 10))).toEqual([
              a!.sessionId,
              taken.sessionId,
              b!.sessionId,
              c!.sessionId
            ])
            if (staleOpenIndex !== undefined) {
              expect(yield* staleOpenIndex.listed(taken, "pending")).toBe(false)
              expect(yield* staleOpenIndex.listed(taken, "active")).toBe(true)
              expect(yield* staleOpenIndex.listed(gone[0]!, "pending")).toBe(false)
            }
          })
        ))

      it.scoped("a session an older version ended, still in its index, is left out of an `open` page and dropped from the index", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const tenantId = uniq("tenant")
            const [a, b, c] = [1000, 2000, 3000].map((ms) => makeRecord({ tenantId, createdAt: iso(T0 + ms) }))
            for (const s of [a!, b!, c!]) yield* store.create(s)
            // Ended by an older version: its record says ended, the index still lists it.
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(b!, { status: "ended", endReason: "user", endedAt: iso(T0 + 4000) })
            })
            if (staleOpenIndex !== undefined) yield* staleOpenIndex.plant(b!, "pending")
            const page = yield* store.openSessionsOfTenant(tenantId, "open", undefined, 2)
            expect(page.sessions.map((s) => s.sessionId)).toEqual([a!.sessionId, c!.sessionId])
            expect(page.next).toBeUndefined()
            if (staleOpenIndex !== undefined) expect(yield* staleOpenIndex.listed(b!, "pending")).toBe(false)
          })
        ))
    })

    describe("indices", () => {
      it.scoped("byConversation finds the session once it has a provider conversation", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            const conversation = uniq("conv")
            expect(Option.isNone(yield* store.byConversation("helvia-livechat", record.tenantId, conversation))).toBe(
              true
            )
            yield* store.commit({ expectedVersion: 0, next: bumped(record, { providerConversationId: conversation }) })
            const found = yield* store.byConversation("helvia-livechat", record.tenantId, conversation)
            expect(Option.map(found, (s) => s.sessionId)).toEqual(Option.some(record.sessionId))
            expect(Option.isNone(yield* store.byConversation("zendesk", record.tenantId, conversation))).toBe(true)
            expect(Option.isNone(yield* store.byConversation("helvia-livechat", "another-tenant", conversation))).toBe(
              true
            )
          })
        ))
      it.scoped("a conversation the provider reuses (Sunshine) belongs to its newest session, even after a late change to the older one", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const conversation = uniq("conv")
            const first = makeRecord({ provider: "zendesk" })
            yield* store.create(first)
            const firstWithConversation = bumped(first, { providerConversationId: conversation })
            yield* store.commit({ expectedVersion: 0, next: firstWithConversation })
            const firstEnded = bumped(firstWithConversation, {
              status: "ended",
              endedAt: iso(T0 + 1000),
              endReason: "user"
            })
            yield* store.commit({ expectedVersion: 1, next: firstEnded })
            const second = makeRecord({ provider: "zendesk", subHandle: first.subHandle })
            yield* store.create(second)
            yield* store.commit({ expectedVersion: 0, next: bumped(second, { providerConversationId: conversation }) })
            // A late event for the first session (dropped, but remembered as seen) commits to it again.
            yield* store.commit({ expectedVersion: 2, next: bumped(firstEnded, {}), seen: [uniq("late")] })
            const found = yield* store.byConversation("zendesk", first.tenantId, conversation)
            expect(Option.map(found, (s) => s.sessionId)).toEqual(Option.some(second.sessionId))
          })
        ))

      it.scoped("a conversation id another tenant also names is that tenant's own entry: it never takes this tenant's over", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const conversation = uniq("conv")
            const victim = makeRecord({ provider: "zendesk", tenantId: "victim" })
            yield* store.create(victim)
            yield* store.commit({ expectedVersion: 0, next: bumped(victim, { providerConversationId: conversation }) })
            // A tenant whose provider URL is its own server answers with the victim's conversation id.
            const lookalike = makeRecord({ provider: "zendesk", tenantId: "victim:x" })
            yield* store.create(lookalike)
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(lookalike, { providerConversationId: conversation })
            })
            const sessionOf = (tenantId: string, conversationId: string) =>
              Effect.map(store.byConversation("zendesk", tenantId, conversationId), Option.map((s) => s.sessionId))
            expect(yield* sessionOf("victim", conversation)).toEqual(Option.some(victim.sessionId))
            expect(yield* sessionOf("victim:x", conversation)).toEqual(Option.some(lookalike.sessionId))
            // Ids with the key's separator in them do not meet either.
            expect(yield* sessionOf("victim", `x:${conversation}`)).toEqual(Option.none())
          })
        ))
    })

    describe("retention", () => {
      const retention: Retention = { endedRetention: Duration.seconds(2), dedupRetention: Duration.seconds(4) }
      const elapse = (
        duration: Duration.Duration
      ) => (clock === "test" ? TestClock.adjust(duration) : Effect.sleep(duration))
      const test = clock === "test" ? it.effect : it.live

      test(
        "an ended session, its indices and ended count go after the session retention; seen ids and message results after theirs; an open session stays",
        () =>
          Effect.gen(function*() {
            const store = yield* SessionStore
            const organizationId = uniq("org")
            const open = makeRecord({ organizationId, providerConversationId: uniq("conv") })
            const ending = makeRecord({ organizationId, providerConversationId: uniq("conv") })
            yield* store.create(open)
            yield* store.create(ending)
            const event = makeEvent(ending, 1)
            yield* store.commit({
              expectedVersion: 0,
              next: bumped(ending, { lastSeq: 1 }),
              seen: [event.id],
              events: [event]
            })
            yield* store.reserveMessage(ending.sessionId, "m1", "fp")
            yield* store.completeMessage(ending.sessionId, "m1", "fp", { providerMessageId: "p1" }, iso(T0 + 1000))
            yield* store.reserveMessage(open.sessionId, "m2", "fp")
            yield* store.completeMessage(open.sessionId, "m2", "fp", { providerMessageId: "p2" }, iso(T0 + 1000))
            const ended = bumped(ending, {
              version: 1,
              lastSeq: 1,
              status: "ended",
              endReason: "user",
              endedAt: iso(T0 + 2000)
            })
            expect(yield* store.commit({ expectedVersion: 1, next: ended })).toBe("committed")

            const found = (record: SessionRecord) =>
              Effect.all([
                store.get(record.sessionId),
                store.latestBySubscriber(record.subHandle),
                store.latestBySubscriber(record.subHandle, record.tenantId),
                store.byConversation(record.provider, record.tenantId, record.providerConversationId!)
              ]).pipe(Effect.map((reads) => reads.map((read) => Option.isSome(read))))
            const endedCounts = Effect.all([
              store.count(organizationId, "ended"),
              store.count(organizationId, "ended", [ending.tenantId])
            ])
            const forwarded = (record: SessionRecord, messageId: string) =>
              store.reserveMessage(record.sessionId, messageId, "fp")

            yield* elapse(Duration.seconds(1))
            expect(yield* found(ending)).toEqual([true, true, true, true])
            expect(yield* endedCounts).toEqual([1, 1])

            // Past the session retention, within the de-duplication one.
            yield* elapse(Duration.seconds(2))
            expect(yield* found(ending)).toEqual([false, false, false, false])
            expect(yield* endedCounts).toEqual([0, 0])
            expect((yield* store.seen(ending.sessionId, [event.id])).size).toBe(1)
            expect(yield* forwarded(ending, "m1")).toEqual({
              _tag: "Forwarded",
              result: { providerMessageId: "p1" },
              fingerprint: "fp"
            })

            // Past the de-duplication retention: an open session's results go too, the session stays.
            yield* elapse(Duration.seconds(2))
            expect((yield* store.seen(ending.sessionId, [event.id])).size).toBe(0)
            expect(yield* forwarded(ending, "m1")).toEqual({ _tag: "Reserved" })
            expect(yield* forwarded(open, "m2")).toEqual({ _tag: "Reserved" })
            expect(yield* found(open)).toEqual([true, true, true, true])
            expect(yield* store.count(organizationId, "pending")).toBe(1)
          }).pipe(Effect.provide(makeLayer(retention))),
        20_000
      )
    })

    describe("de-duplication", () => {
      it.scoped("an event id seen in one session does not count in another", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const a = makeRecord()
            const b = makeRecord({ tenantId: "t2" })
            yield* store.create(a)
            yield* store.create(b)
            const id = uniq("provider-event")
            expect(
              yield* store.commit({
                expectedVersion: 0,
                next: bumped(a, { lastSeq: 1 }),
                seen: [id],
                events: [makeEvent(a, 1, id)]
              })
            ).toBe(
              "committed"
            )
            expect((yield* store.seen(b.sessionId, [id])).size).toBe(0)
            expect(
              yield* store.commit({
                expectedVersion: 0,
                next: bumped(b, { lastSeq: 1 }),
                seen: [id],
                events: [makeEvent(b, 1, id)]
              })
            ).toBe(
              "committed"
            )
            expect((yield* store.seen(b.sessionId, [id])).size).toBe(1)
          })
        ))
    })

    describe("webhook sources", () => {
      it.scoped("a source's tenants, the most recently remembered first, at most WEBHOOK_SOURCE_TENANTS", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const source = uniq("source")
            expect(yield* store.webhookSourceTenants("zendesk", source)).toEqual([])
            for (let i = 0; i < WEBHOOK_SOURCE_TENANTS + 2; i++) {
              yield* store.rememberWebhookSource("zendesk", source, `tenant-${i}`)
              yield* TestClock.adjust("1 millis")
            }
            // Remembered again: it is the most recent now.
            yield* store.rememberWebhookSource("zendesk", source, "tenant-0")
            const tenants = yield* store.webhookSourceTenants("zendesk", source)
            expect(tenants.length).toBe(WEBHOOK_SOURCE_TENANTS)
            expect(tenants[0]).toBe("tenant-0")
            expect(tenants[1]).toBe(`tenant-${WEBHOOK_SOURCE_TENANTS + 1}`)
            expect(tenants).not.toContain("tenant-1")
            expect(yield* store.webhookSourceTenants("helvia-livechat", source)).toEqual([])
          })
        ))
    })

    describe("message reservations", () => {
      it.scoped("Reserved, then InFlight, then Forwarded; release lets a retry reserve again", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            expect(yield* store.reserveMessage(record.sessionId, "m1", "fp")).toEqual({ _tag: "Reserved" })
            expect(yield* store.reserveMessage(record.sessionId, "m1", "fp")).toEqual({
              _tag: "InFlight",
              fingerprint: "fp"
            })
            // Another message, and the same message id in another session, are independent.
            expect(yield* store.reserveMessage(record.sessionId, "m2", "fp")).toEqual({ _tag: "Reserved" })
            expect(yield* store.reserveMessage("other-session", "m1", "fp")).toEqual({ _tag: "Reserved" })

            yield* store.completeMessage(record.sessionId, "m1", "fp", { providerMessageId: "p1" }, iso(T0 + 1000))
            expect(yield* store.reserveMessage(record.sessionId, "m1", "fp")).toEqual({
              _tag: "Forwarded",
              result: { providerMessageId: "p1" },
              fingerprint: "fp"
            })
            // Another message under a used id sees the claim's fingerprint, not its own.
            expect(yield* store.reserveMessage(record.sessionId, "m1", "other")).toEqual({
              _tag: "Forwarded",
              result: { providerMessageId: "p1" },
              fingerprint: "fp"
            })
            expect(yield* store.reserveMessage(record.sessionId, "m3", "first")).toEqual({ _tag: "Reserved" })
            expect(yield* store.reserveMessage(record.sessionId, "m3", "second")).toEqual({
              _tag: "InFlight",
              fingerprint: "first"
            })

            yield* store.releaseMessage(record.sessionId, "m2")
            expect(yield* store.reserveMessage(record.sessionId, "m2", "fp")).toEqual({ _tag: "Reserved" })
          })
        ))

      it.scoped("reserveSubscriberMessage: the subscriber's latest session with the message claimed in it", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            expect(yield* store.reserveSubscriberMessage(uniq("nobody"), "t1", "m1", "fp")).toEqual(Option.none())
            const { second } = yield* endedThenNew
            yield* store.completeMessage(second.sessionId, "m0", "fp", {}, iso(T0 + 3000))
            const first = Option.getOrThrow(
              yield* store.reserveSubscriberMessage(second.subHandle, second.tenantId, "m1", "fp")
            )
            expect([first.session.sessionId, first.session.lastActivityAt, first.reservation]).toEqual([
              second.sessionId,
              iso(T0 + 3000),
              { _tag: "Reserved" }
            ])
            const again = Option.getOrThrow(
              yield* store.reserveSubscriberMessage(second.subHandle, second.tenantId, "m1", "fp")
            )
            expect(again.reservation).toEqual({ _tag: "InFlight", fingerprint: "fp" })
            yield* store.completeMessage(second.sessionId, "m1", "fp", { providerMessageId: "p1" }, iso(T0 + 4000))
            const done = Option.getOrThrow(
              yield* store.reserveSubscriberMessage(second.subHandle, second.tenantId, "m1", "fp")
            )
            expect(done.reservation).toEqual({
              _tag: "Forwarded",
              result: { providerMessageId: "p1" },
              fingerprint: "fp"
            })
            // The claim is the same one reserveMessage sees.
            expect(yield* store.reserveMessage(second.sessionId, "m1", "fp")).toEqual(done.reservation)
          })
        ))

      it.scoped("a forwarded message is the session's activity in every read, without a new version", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord({ providerConversationId: uniq("conv") })
            yield* store.create(record)
            yield* store.completeMessage(record.sessionId, "m1", "fp", {}, iso(T0 + 5000))
            // An older time (a slower concurrent forward) does not move it back.
            yield* store.completeMessage(record.sessionId, "m2", "fp", {}, iso(T0 + 4000))
            const activity = (found: Option.Option<SessionRecord>) =>
              Option.map(found, (s) => [s.version, s.lastActivityAt])
            const expected = Option.some([0, iso(T0 + 5000)])
            expect(activity(yield* store.get(record.sessionId))).toEqual(expected)
            expect(activity(yield* store.latestBySubscriber(record.subHandle))).toEqual(expected)
            expect(
              activity(yield* store.byConversation("helvia-livechat", record.tenantId, record.providerConversationId!))
            ).toEqual(expected)
            const open = (yield* store.openSessions(partitionOf(record.sessionId, PARTITIONS))).find((s) =>
              s.sessionId === record.sessionId
            )
            expect(open?.lastActivityAt).toBe(iso(T0 + 5000))

            // A change from a read before the message (version 0) still commits, and keeps the later activity.
            expect(
              yield* store.commit({
                expectedVersion: 0,
                next: bumped(record, { status: "active", assignedAt: iso(T0 + 1000), lastActivityAt: iso(T0 + 1000) })
              })
            ).toBe("committed")
            expect(activity(yield* store.get(record.sessionId))).toEqual(Option.some([1, iso(T0 + 5000)]))
            // A change that is itself later wins.
            const active = Option.getOrThrow(yield* store.get(record.sessionId))
            yield* store.commit({ expectedVersion: 1, next: bumped(active, { lastActivityAt: iso(T0 + 9000) }) })
            expect(activity(yield* store.get(record.sessionId))).toEqual(Option.some([2, iso(T0 + 9000)]))
          })
        ))

      it.scoped("a change decided on the session's activity is refused when a later one was recorded since", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            const read = Option.getOrThrow(yield* store.get(record.sessionId))
            // A user message after the read: the version does not show it, the activity does.
            yield* store.completeMessage(record.sessionId, "m1", "fp", {}, iso(T0 + 5000))
            const ended = bumped(read, { status: "ended", endedAt: iso(T0 + 6000), endReason: "inactivity" })
            expect(yield* store.commit({ expectedVersion: 0, next: ended, expectedActivity: read.lastActivityAt }))
              .toBe("conflict")
            // Decided again on the fresh read, it goes through.
            const fresh = Option.getOrThrow(yield* store.get(record.sessionId))
            expect(fresh.lastActivityAt).toBe(iso(T0 + 5000))
            expect(yield* store.commit({ expectedVersion: 0, next: ended, expectedActivity: fresh.lastActivityAt }))
              .toBe("committed")
          })
        ))

      it.scoped("an ended session keeps no activity, and a message completed after the end leaves none", () =>
        run(
          Effect.gen(function*() {
            const store = yield* SessionStore
            const record = makeRecord()
            yield* store.create(record)
            yield* store.completeMessage(record.sessionId, "m1", "fp", {}, iso(T0 + 5000))
            const ended = bumped(record, {
              status: "ended",
              endedAt: iso(T0 + 2000),
              endReason: "user",
              lastActivityAt: iso(T0 + 2000)
            })
            expect(yield* store.commit({ expectedVersion: 0, next: ended })).toBe("committed")
            yield* store.completeMessage(record.sessionId, "m2", "fp", {}, iso(T0 + 7000))
            expect(Option.map(yield* store.get(record.sessionId), (s) => s.lastActivityAt)).toEqual(
              Option.some(iso(T0 + 2000))
            )
            // The message itself is remembered all the same.
            expect(yield* store.reserveMessage(record.sessionId, "m2", "fp")).toEqual({
              _tag: "Forwarded",
              result: {},
              fingerprint: "fp"
            })
          })
        ))
    })
  })
