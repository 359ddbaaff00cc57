import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, TestClock } from "effect"
import type { LivechatEvent, SessionRecord } from "../../src/domain/model.js"
import { makeDeliveryWorker } from "../../src/gateway/DeliveryWorker.js"
import { TimelineRecorderLive } from "../../src/gateway/TimelineRecorder.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { Coordinator } from "../../src/services/Coordinator.js"
import { TenantNotFound } from "../../src/services/errors.js"
import { EventPublisher } from "../../src/services/EventPublisher.js"
import { HbfBot } from "../../src/services/HbfBot.js"
import { HbfCore } from "../../src/services/HbfCore.js"
import { partitionOf } from "../../src/services/Outbox.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { MemoryStoreLive } from "../../src/stores/MemoryStore.js"

const PARTITIONS = 4

/** Whether this instance's lease of the partitions is fresh (`Coordinator.mayAct`). */
const lease = { fresh: true }

/** The ids of the events hbf-bot received. */
const delivered: Array<string> = []

const layer = Layer.mergeAll(
  TimelineRecorderLive.pipe(Layer.provideMerge(MemoryStoreLive({ partitions: PARTITIONS }))),
  AppConfig.layer({
    publicUrl: "https://lcg.example.com",
    jwt: {},
    hbfCore: { url: "http://core", token: Redacted.make("core-token"), cacheSeconds: 0 },
    hbfLcm: { url: "http://lcm", token: Redacted.make("lcm-token") },
    hbfBot: { url: "http://bot" },
    eventPublisherUrl: "http://publisher",
    instanceId: "test",
    partitions: PARTITIONS
  }),
  Layer.succeed(HbfBot, { deliver: (event) => Effect.sync(() => void delivered.push(event.id)) }),
  Layer.succeed(EventPublisher, { triggerFlow: () => Effect.void }),
  // No tenant: no flow to trigger, hbf-bot is the only target.
  Layer.succeed(HbfCore, {
    tenant: (tenantId) => Effect.fail(new TenantNotFound({ tenantId, message: "none" })),
    organization: (id) => Effect.succeed({ id })
  }),
  Layer.succeed(Coordinator, {
    instanceId: "test",
    partitions: PARTITIONS,
    runPerPartition: () => Effect.void,
    mayAct: () => lease.fresh,
    askOwner: () => Effect.succeed("unassigned"),
    status: Effect.die("not used"),
    leave: Effect.void
  })
)

const record: SessionRecord = {
  sessionId: "s1",
  tenantId: "t1",
  organizationId: "org1",
  subHandle: "sub1",
  provider: "helvia-livechat",
  status: "pending",
  createdAt: "2026-01-01T10:00:00.000Z",
  lastActivityAt: "2026-01-01T10:00:00.000Z",
  version: 0,
  lastSeq: 0
}

const joined: LivechatEvent = {
  id: "e1",
  sessionId: record.sessionId,
  tenantId: record.tenantId,
  organizationId: record.organizationId,
  subHandle: record.subHandle,
  provider: record.provider,
  seq: 1,
  occurredAt: "2026-01-01T10:00:01.000Z",
  type: "agent.joined",
  data: { agent: {} }
}

/** Lets the forked fibers run up to where they wait. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("DeliveryWorker", () => {
  it.scoped("an entry waits while the partition's lease is not fresh, looking again every 200 ms, and goes out at the first look after", () =>
    Effect.gen(function*() {
      lease.fresh = false
      delivered.length = 0
      const worker = yield* makeDeliveryWorker
      yield* Effect.forkScoped(
        worker.runPartition({
          partition: partitionOf(record.sessionId, PARTITIONS),
          handOver: Effect.never,
          answer: () => Effect.void
        })
      )
      const store = yield* SessionStore
      yield* store.create(record)
      yield* store.commit({
        expectedVersion: 0,
        next: { ...record, status: "active", version: 1, lastSeq: 1 },
        events: [joined]
      })
      yield* settle
      yield* TestClock.adjust(Duration.seconds(1))
      yield* settle
      expect(delivered).toEqual([])

      lease.fresh = true
      yield* TestClock.adjust(Duration.millis(199))
      yield* settle
      expect(delivered).toEqual([])
      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      expect(delivered).toEqual(["e1"])
    }).pipe(Effect.provide(layer)))
})
