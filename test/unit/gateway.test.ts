import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Deferred, Duration, Effect, Fiber, Layer, Option, Redacted, Stream, TestClock } from "effect"
import { everyTenant as all } from "../../src/domain/access.js"
import type { EndReason, LivechatEvent, ProviderEvent } from "../../src/domain/model.js"
import { decodeTenant, type Tenant } from "../../src/domain/tenant.js"
import { TimelineRecorderLive } from "../../src/gateway/TimelineRecorder.js"
import { UseCasesLive } from "../../src/gateway/UseCasesLive.js"
import { deliveryOf } from "../../src/providers/delivery.js"
import { helviaCapabilities } from "../../src/providers/helvia/provider.js"
import { ProviderCallHealthLive } from "../../src/providers/providerCallHealth.js"
import { callsInSessionTimeline, makeProviderRegistry } from "../../src/providers/ProviderRegistryLive.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { ProviderError, StoreUnavailable, TenantNotFound } from "../../src/services/errors.js"
import { HbfCore } from "../../src/services/HbfCore.js"
import { Ingest, type IngestService } from "../../src/services/Ingest.js"
import type {
  CreateContext,
  LivechatProvider,
  SessionContext,
  UserMessage,
  WebhookSender
} from "../../src/services/LivechatProvider.js"
import { LivechatRequests, type LivechatRequestsService } from "../../src/services/LivechatRequests.js"
import { Messaging, type MessagingService } from "../../src/services/Messaging.js"
import { Outbox, partitionOf } from "../../src/services/Outbox.js"
import { ProviderRegistry } from "../../src/services/ProviderRegistry.js"
import { Queries, type QueriesService } from "../../src/services/Queries.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { recordCallInScope, Timeline } from "../../src/services/Timeline.js"
import { Timeouts, type TimeoutsService } from "../../src/services/Timeouts.js"
import { MemoryStoreLive } from "../../src/stores/MemoryStore.js"

const PARTITIONS = 4
const PENDING_SECONDS = 60
const INACTIVITY_SECONDS = 120
/** The "warned" tenant's warnings: after 30 s of waiting, and 20 s before an inactivity close. */
const WAIT_WARNING_SECONDS = 30
const INACTIVITY_WARNING_SECONDS = 20

const tenantJson = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  displayName: `Tenant ${id}`,
  timezone: "Europe/Athens",
  image: "https://example.com/bot.png",
  organization: { id: "org1" },
  plugins: [
    {
      category: "LIVECHAT",
      integrationId: `int-${id}`,
      integration: {
        id: `int-${id}`,
        name: "Acme Helvia",
        enabled: true,
        category: "LIVECHAT",
        type: "HELVIA_LIVECHAT",
        timeouts: { pendingSeconds: PENDING_SECONDS, inactivitySeconds: INACTIVITY_SECONDS },
        flowTriggers: { "session.ended": "flow-survey" },
        helvia: { webhookSecret: "whsec" },
        ...extra
      }
    }
  ]
})

const tenants = new Map<string, Tenant>(
  [
    tenantJson("t1"),
    tenantJson("t2"),
    tenantJson("closed", { businessHours: { timezone: "UTC", weekly: [] } }),
    tenantJson("warned", {
      timeouts: {
        pendingSeconds: PENDING_SECONDS,
        inactivitySeconds: INACTIVITY_SECONDS,
        waitWarningSeconds: WAIT_WARNING_SECONDS,
        inactivityWarningSeconds: INACTIVITY_WARNING_SECONDS
      }
    })
  ].map(
    (json) => [json.id, Effect.runSync(decodeTenant(json))]
  )
)

const HbfCoreFake = Layer.succeed(
  HbfCore,
  HbfCore.of({
    tenant: (tenantId) => {
      const tenant = tenants.get(tenantId)
      return tenant !== undefined
        ? Effect.succeed(tenant)
        : Effect.fail(new TenantNotFound({ tenantId, message: `tenant ${tenantId} not found` }))
    },
    organization: (id) => Effect.succeed({ id })
  })
)

const AppConfigTest = AppConfig.layer({
  publicUrl: "https://lcg.example.com",
  jwt: {},
  hbfCore: { url: "http://core", token: Redacted.make("core-token"), cacheSeconds: 0 },
  hbfLcm: { url: "http://lcm", token: Redacted.make("lcm-token") },
  hbfBot: { url: "http://bot" },
  eventPublisherUrl: "http://publisher",
  instanceId: "test",
  partitions: PARTITIONS,
  delivery: { maxAttempts: 3, baseDelay: Duration.millis(10), maxDelay: Duration.seconds(1) },
  sweepInterval: Duration.seconds(30)
})

/** A call of the fake provider, in the timeline of the session it is made for (as the real clients record theirs). */
const recordedCall = (operation: string) => recordCallInScope(operation, 1, 0, 200)

/**
 * A provider that records every call; `failCreates` and `failSends` make the next creates and
 * sends fail, and while `holdSends` is set, sends wait for it.
 */
const makeFakeProvider = () => {
  const calls = {
    create: [] as Array<CreateContext>,
    sendMessage: [] as Array<{ context: SessionContext; message: UserMessage }>,
    end: [] as Array<{ context: SessionContext; reason: EndReason }>
  }
  const control = {
    failCreates: 0,
    failSends: 0,
    holdSends: undefined as Deferred.Deferred<void> | undefined,
    holdCreates: undefined as Deferred.Deferred<void> | undefined
  }
  const provider: LivechatProvider = {
    alias: "helvia-livechat",
    capabilities: helviaCapabilities,
    deliveryOf: (message) => deliveryOf(helviaCapabilities, message, 1),
    create: (context) =>
      Effect.suspend(() => {
        calls.create.push(context)
        const held = Effect.zipRight(
          recordedCall("create"),
          control.holdCreates !== undefined ? Deferred.await(control.holdCreates) : Effect.void
        )
        if (control.failCreates > 0) {
          control.failCreates--
          return Effect.zipRight(
            held,
            Effect.fail(new ProviderError({ provider: "helvia-livechat", message: "hbf-lcm said 500" }))
          )
        }
        return Effect.as(held, { conversationId: `conv-${context.session.sessionId}` })
      }),
    sendMessage: (context, message) =>
      Effect.suspend(() => {
        calls.sendMessage.push({ context, message })
        if (control.failSends > 0) {
          control.failSends--
          return Effect.fail(new ProviderError({ provider: "helvia-livechat", message: "hbf-lcm said 503" }))
        }
        const sent = Effect.as(recordedCall("sendMessage"), {
          providerMessageId: `p-${message.messageId}`,
          delivery: deliveryOf(helviaCapabilities, message, 1)
        })
        return control.holdSends !== undefined ? Effect.zipRight(Deferred.await(control.holdSends), sent) : sent
      }),
    end: (context, reason) =>
      Effect.zipRight(recordedCall("end"), Effect.sync(() => void calls.end.push({ context, reason }))),
    webhook: {
      authHeader: "x-test-signature",
      wellFormed: () => true,
      senderOf: () => Option.none(),
      sourceOf: () => Option.some("fake-source"),
      verify: () => true,
      parse: () => Effect.succeed([])
    }
  }
  return { provider, calls, control }
}

/**
 * While `claimsAway`, the store refuses to record or give back message claims, and while
 * `sourcesAway` to remember webhook sources (as Redis gone at that moment would). The next
 * `conflicts` commits answer "conflict" (as another writer's commit in between would).
 */
const storeFaults = { claimsAway: false, sourcesAway: false, conflicts: 0, resultsWithoutDelivery: false }

/** Runs just before the next commit (once): another writer's change racing the one being committed. */
const race: { beforeNextCommit: Effect.Effect<unknown, unknown> | undefined } = { beforeNextCommit: undefined }

/** How often the gateway read a session, committed a change, and claimed a message. */
const storeCalls = { get: 0, commit: 0, reserveMessage: 0 }

const storeAway = (op: string) => Effect.fail(new StoreUnavailable({ message: `store unavailable (${op})` }))

/** The memory store, with the faults of `storeFaults`, counting the calls of `storeCalls`. */
const FaultyMemoryStore = Layer.effect(
  SessionStore,
  Effect.map(SessionStore, (store) => ({
    ...store,
    get: (...args: Parameters<typeof store.get>) => Effect.suspend(() => (storeCalls.get++, store.get(...args))),
    commit: (...args: Parameters<typeof store.commit>) =>
      Effect.suspend(() => {
        storeCalls.commit++
        const racing = race.beforeNextCommit
        race.beforeNextCommit = undefined
        if (racing !== undefined) return Effect.zipRight(Effect.orDie(racing), store.commit(...args))
        if (storeFaults.conflicts === 0) return store.commit(...args)
        storeFaults.conflicts--
        return Effect.succeed("conflict" as const)
      }),
    reserveMessage: (...args: Parameters<typeof store.reserveMessage>) =>
      Effect.suspend(() => (storeCalls.reserveMessage++, store.reserveMessage(...args))),
    completeMessage: (...[sessionId, messageId, fingerprint, result, at]: Parameters<typeof store.completeMessage>) =>
      Effect.suspend(() => {
        if (storeFaults.claimsAway) return storeAway("complete message")
        // As a version before deliveries were kept stored it.
        const { delivery: _, ...withoutDelivery } = result
        return store.completeMessage(
          sessionId,
          messageId,
          fingerprint,
          storeFaults.resultsWithoutDelivery ? withoutDelivery : result,
          at
        )
      }),
    releaseMessage: (...args: Parameters<typeof store.releaseMessage>) =>
      Effect.suspend(() => (storeFaults.claimsAway ? storeAway("release message") : store.releaseMessage(...args))),
    rememberWebhookSource: (...args: Parameters<typeof store.rememberWebhookSource>) =>
      Effect.suspend(
        () => (storeFaults.sourcesAway ? storeAway("remember webhook source") : store.rememberWebhookSource(...args))
      )
  }))
).pipe(Layer.provideMerge(MemoryStoreLive({ partitions: PARTITIONS })))

/** Every use case, in one object. */
type Gateway = LivechatRequestsService & MessagingService & QueriesService & IngestService & TimeoutsService

const gatewayOf = Effect.map(
  Effect.all([LivechatRequests, Messaging, Queries, Ingest, Timeouts]),
  ([requests, messaging, queries, ingest, timeouts]): Gateway => ({
    ...requests,
    ...messaging,
    ...queries,
    ...ingest,
    ...timeouts
  })
)

/** Runs `body` with a fresh gateway over a fresh memory store. */
const withGateway = <A, E>(
  body: (
    env: { gateway: Gateway } & ReturnType<typeof makeFakeProvider>
  ) => Effect.Effect<A, E, SessionStore | Outbox | Timeline>
) => {
  const fake = makeFakeProvider()
  Object.assign(storeFaults, { claimsAway: false, sourcesAway: false, conflicts: 0, resultsWithoutDelivery: false })
  race.beforeNextCommit = undefined
  Object.assign(storeCalls, { get: 0, commit: 0, reserveMessage: 0 })
  const layer = Layer.mergeAll(
    FaultyMemoryStore,
    AppConfigTest,
    HbfCoreFake,
    ProviderCallHealthLive.pipe(Layer.provide(AppConfigTest))
  )
  // Registered as the Genesys, CCP and Sunshine adapters are: its calls for a session in the session's timeline scope.
  const registry = Layer.effect(
    ProviderRegistry,
    Effect.map(callsInSessionTimeline(Effect.succeed(fake.provider)), (provider) => makeProviderRegistry([provider]))
  )
  return Effect.gen(function*() {
    const gateway = yield* gatewayOf
    return yield* body({ gateway, ...fake })
  }).pipe(
    Effect.provide(
      UseCasesLive.pipe(
        Layer.provideMerge(registry),
        Layer.provideMerge(TimelineRecorderLive),
        Layer.provideMerge(layer)
      )
    )
  )
}

const outboxEvents = (sessionId: string, n: number) =>
  Effect.flatMap(Outbox, (outbox) =>
    outbox.consume(partitionOf(sessionId, PARTITIONS)).pipe(
      Stream.filter((e) => e.event.sessionId === sessionId),
      Stream.take(n),
      Stream.runCollect,
      Effect.map((c) => Chunk.toReadonlyArray(c).map((e) => e.event))
    ))

const event = (id: string, body: Omit<ProviderEvent, "id" | "occurredAt">): ProviderEvent =>
  ({ id, occurredAt: "2026-01-01T10:00:00.000Z", ...body }) as ProviderEvent

/** sub1's session at t1, joined by an agent, and the timeout sweep of its partition. */
const activeSession = (gateway: Gateway) =>
  Effect.gen(function*() {
    const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
    yield* gateway.ingest("helvia-livechat", "t1", session.providerConversationId!, [
      event("j1", { type: "agent.joined", data: { agent: {} } })
    ], "socket")
    return { session, sweep: gateway.sweepTimeouts(partitionOf(session.sessionId, PARTITIONS)) }
  })

describe("Gateway.create", () => {
  it.effect("creates once, then returns the same open session to the same tenant", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const first = yield* gateway.create({ tenantId: "t1", subHandle: "sub1", user: { name: "Ann" } }, all)
        expect(first.created).toBe(true)
        expect(first.session).toMatchObject({
          tenantId: "t1",
          organizationId: "org1",
          subHandle: "sub1",
          provider: "helvia-livechat",
          status: "pending",
          providerConversationId: `conv-${first.session.sessionId}`
        })
        expect(calls.create).toHaveLength(1)
        expect(calls.create[0]!.callbackUrl).toBe("https://lcg.example.com/events/helvia-livechat")

        const again = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        expect(again.created).toBe(false)
        expect(again.session.sessionId).toBe(first.session.sessionId)
        expect(calls.create).toHaveLength(1)
      })
    ))

  it.effect("refuses a subscriber with an open session at another tenant", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const error = yield* Effect.flip(gateway.create({ tenantId: "t2", subHandle: "sub1" }, all))
        expect(error._tag).toBe("SessionOpenElsewhere")
      })
    ))

  it.effect("propagates TenantNotFound for an unknown tenant", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(gateway.create({ tenantId: "nope", subHandle: "sub1" }, all))
        expect(error._tag).toBe("TenantNotFound")
        expect(calls.create).toHaveLength(0)
      })
    ))

  it.effect("a provider failure is a ProviderError and the subscriber can request again", () =>
    withGateway(({ calls, control, gateway }) =>
      Effect.gen(function*() {
        control.failCreates = 1
        const error = yield* Effect.flip(gateway.create({ tenantId: "t1", subHandle: "sub1" }, all))
        expect(error._tag).toBe("ProviderError")
        const state = yield* gateway.state("sub1", all)
        expect(state.state).toBe("ended")

        const retry = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        expect(retry.created).toBe(true)
        expect(retry.session.status).toBe("pending")
        expect(calls.create).toHaveLength(2)
        expect(retry.session.sessionId).not.toBe(calls.create[0]!.session.sessionId)
      })
    ))

  it.effect("outside business hours is LivechatUnavailable and the provider is not called", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(gateway.create({ tenantId: "closed", subHandle: "sub1" }, all))
        expect(error._tag).toBe("LivechatUnavailable")
        if (error._tag === "LivechatUnavailable") expect(error.reason).toBe("outside-business-hours")
        expect(calls.create).toHaveLength(0)
        expect((yield* gateway.state("sub1", all)).state).toBe("none")
      })
    ))
})

describe("Gateway.create with the store failing", () => {
  it.effect("a webhook source the store cannot remember fails the request before any session is stored: a retry opens one", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        storeFaults.sourcesAway = true
        const failed = yield* Effect.flip(gateway.create({ tenantId: "t1", subHandle: "sub1" }, all))
        expect(failed._tag).toBe("StoreUnavailable")
        expect((yield* gateway.state("sub1", all)).state).toBe("none")
        expect(calls.create.length).toBe(0)
        storeFaults.sourcesAway = false
        const retried = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        expect(retried.created).toBe(true)
        expect(retried.session.providerConversationId).toBeDefined()
      })
    ))
})

describe("Gateway.forwardMessage", () => {
  it.effect("is idempotent per messageId", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const message = { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }
        const first = yield* gateway.forwardMessage(message, all)
        const second = yield* gateway.forwardMessage(message, all)
        expect(first).toEqual({
          messageId: "m1",
          sessionId: session.sessionId,
          providerMessageId: "p-m1",
          delivery: { parts: 1 }
        })
        expect(second).toEqual(first)
        expect(calls.sendMessage).toHaveLength(1)
        expect(calls.sendMessage[0]!.message).toEqual({ messageId: "m1", text: "hello" })

        yield* gateway.forwardMessage({ ...message, messageId: "m2" }, all)
        expect(calls.sendMessage).toHaveLength(2)
      })
    ))

  it.effect("a retry of a message whose result was stored without its delivery (by an earlier version) answers what the provider makes of it", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        storeFaults.resultsWithoutDelivery = true
        const message = {
          tenantId: "t1",
          subHandle: "sub1",
          messageId: "m1",
          text: "the bill",
          attachments: [{ url: "https://files.example/bill.pdf", contentType: "application/pdf" }]
        }
        const first = yield* gateway.forwardMessage(message, all)
        const retried = yield* gateway.forwardMessage(message, all)
        const expected = {
          messageId: "m1",
          sessionId: session.sessionId,
          providerMessageId: "p-m1",
          delivery: { attachments: "native", parts: 1 }
        }
        expect(first).toEqual(expected)
        expect(retried).toEqual(expected)
        expect(calls.sendMessage).toHaveLength(1)
      })
    ))

  it.effect("another message under a used messageId is refused MessageIdReused, not answered as the first (which would drop it)", () =>
    withGateway(({ calls, control, gateway }) =>
      Effect.gen(function*() {
        yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const message = { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }
        yield* gateway.forwardMessage(message, all)
        const reused = yield* Effect.flip(gateway.forwardMessage({ ...message, text: "a different question" }, all))
        expect(reused).toMatchObject({ _tag: "MessageIdReused", messageId: "m1" })
        const withFile = { ...message, attachments: [{ url: "https://files.example/a.png", contentType: "image/png" }] }
        expect((yield* Effect.flip(gateway.forwardMessage(withFile, all)))._tag).toBe("MessageIdReused")
        expect(calls.sendMessage).toHaveLength(1)
        // While the first is still being sent, too: refused at once, not after waiting for it.
        const held = yield* Deferred.make<void>()
        control.holdSends = held
        const first = yield* Effect.fork(gateway.forwardMessage({ ...message, messageId: "m2" }, all))
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        const inFlight = yield* Effect.flip(gateway.forwardMessage({ ...message, messageId: "m2", text: "other" }, all))
        expect(inFlight._tag).toBe("MessageIdReused")
        yield* Deferred.succeed(held, undefined)
        yield* Fiber.join(first)
        // A retry that drops empty fields is the same message.
        const file = { url: "https://files.example/a.png", contentType: "image/png" }
        const fileOnly = { tenantId: "t1", subHandle: "sub1", messageId: "m3", attachments: [file] }
        yield* gateway.forwardMessage({ ...fileOnly, text: "" }, all)
        const sends = calls.sendMessage.length
        yield* gateway.forwardMessage(fileOnly, all)
        yield* gateway.forwardMessage({ ...message, attachments: [] }, all)
        expect(calls.sendMessage).toHaveLength(sends)
      })
    ))

  it.effect("a message sent while the store cannot record it is answered, recorded once the store is back, and never sent twice", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const message = { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }
        storeFaults.claimsAway = true
        // The provider has it: the caller is told so, not asked to retry a message already sent.
        const first = yield* gateway.forwardMessage(message, all)
        expect(first).toEqual({
          messageId: "m1",
          sessionId: session.sessionId,
          providerMessageId: "p-m1",
          delivery: { parts: 1 }
        })
        yield* TestClock.adjust(Duration.seconds(3))
        storeFaults.claimsAway = false
        storeFaults.sourcesAway = false
        // The background retry records it (its delays are at most 5 s).
        yield* TestClock.adjust(Duration.seconds(6))
        const retried = yield* gateway.forwardMessage(message, all)
        expect(retried).toEqual(first)
        expect(calls.sendMessage).toHaveLength(1)
      })
    ))

  it.effect("a claim the store could not give back after a provider failure is given back once the store is back: the retry is sent", () =>
    withGateway(({ calls, control, gateway }) =>
      Effect.gen(function*() {
        yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const message = { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }
        control.failSends = 1
        storeFaults.claimsAway = true
        expect((yield* Effect.flip(gateway.forwardMessage(message, all)))._tag).toBe("ProviderError")
        storeFaults.claimsAway = false
        storeFaults.sourcesAway = false
        yield* TestClock.adjust(Duration.seconds(6))
        // Had the claim stayed, this retry would wait for it and answer MessageInFlight for two minutes.
        const retried = yield* gateway.forwardMessage(message, all)
        expect(retried).toMatchObject({ messageId: "m1", providerMessageId: "p-m1", delivery: { parts: 1 } })
        expect(calls.sendMessage).toHaveLength(2)
      })
    ))

  it.effect("another tenant's message for the subscriber is SessionNotFound, and leaves no claim on the message id", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const wrong = yield* Effect.flip(
          gateway.forwardMessage({ tenantId: "t2", subHandle: "sub1", messageId: "m1", text: "hi" }, all)
        )
        expect(wrong._tag).toBe("SessionNotFound")
        expect(calls.sendMessage).toHaveLength(0)
        // Had the claim stayed, this would wait for it and answer MessageInFlight.
        const sent = yield* gateway.forwardMessage(
          { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hi" },
          all
        )
        expect(sent).toMatchObject({ messageId: "m1", sessionId: session.sessionId })
        expect(calls.sendMessage).toHaveLength(1)
        expect(
          (yield* Effect.flip(
            gateway.forwardMessage({ tenantId: "t1", subHandle: "nobody", messageId: "m2", text: "hi" }, all)
          ))._tag
        ).toBe(
          "SessionNotFound"
        )
      })
    ))
})

describe("Gateway.forwardMessage while an earlier request forwards the same message", () => {
  /** Lets forked fibers run up to where they wait. */
  const settle = Effect.repeatN(Effect.yieldNow(), 20)

  it.effect("the retry waits for the first forward's outcome and answers with it, without sending again", () =>
    withGateway(({ calls, control, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const message = { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }
        const provider = yield* Deferred.make<void>()
        control.holdSends = provider
        const first = yield* Effect.fork(gateway.forwardMessage(message, all))
        yield* settle
        expect(calls.sendMessage).toHaveLength(1)
        const retry = yield* Effect.fork(gateway.forwardMessage(message, all))
        yield* settle
        yield* TestClock.adjust(Duration.seconds(3))
        expect(yield* Fiber.poll(retry)).toEqual(Option.none())
        // It looks every 100 ms.
        expect(storeCalls.reserveMessage).toBe(30)

        yield* Deferred.succeed(provider, undefined)
        const answer = yield* Fiber.join(first)
        expect(answer).toEqual({
          messageId: "m1",
          sessionId: session.sessionId,
          providerMessageId: "p-m1",
          delivery: { parts: 1 }
        })
        yield* TestClock.adjust(Duration.millis(100))
        expect(yield* Fiber.join(retry)).toEqual(answer)
        expect(calls.sendMessage).toHaveLength(1)
      })
    ))

  it.effect("the retry answers MessageInFlight after waiting 10 s, looking every 100 ms", () =>
    withGateway(({ control, gateway }) =>
      Effect.gen(function*() {
        yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const message = { tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }
        control.holdSends = yield* Deferred.make<void>()
        yield* Effect.fork(gateway.forwardMessage(message, all))
        yield* settle
        const retry = yield* Effect.fork(gateway.forwardMessage(message, all))
        yield* settle
        yield* TestClock.adjust(Duration.millis(9_999))
        expect(yield* Fiber.poll(retry)).toEqual(Option.none())
        expect(storeCalls.reserveMessage).toBe(99)
        yield* TestClock.adjust(Duration.millis(1))
        const error = yield* Effect.flip(Fiber.join(retry))
        expect(error._tag).toBe("MessageInFlight")
        expect(storeCalls.reserveMessage).toBe(100)
      })
    ))
})

describe("Gateway session changes under concurrent writes", () => {
  const joined = event("e1", { type: "agent.joined", data: { agent: { name: "Alice" } } })

  it.effect("a commit that conflicts is recomputed from the record read afresh, up to 16 attempts in all", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        Object.assign(storeCalls, { get: 0, commit: 0 })
        storeFaults.conflicts = 15
        expect(yield* gateway.ingest("helvia-livechat", "t1", session.providerConversationId!, [joined], "socket"))
          .toEqual({
            accepted: 1,
            unknown: 0
          })
        // The first attempt starts from the record the routing read; each retry reads it again.
        expect(storeCalls).toMatchObject({ get: 15, commit: 16 })
        expect((yield* gateway.state("sub1", all)).state).toBe("active")
      })
    ))

  it.effect("a session that keeps changing is StoreUnavailable after 16 attempts, and nothing is committed", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const store = yield* SessionStore
        const before = yield* store.get(session.sessionId)
        Object.assign(storeCalls, { get: 0, commit: 0 })
        storeFaults.conflicts = 16
        const error = yield* Effect.flip(gateway.update("sub1", { user: { name: "Bea" } }, all))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", message: expect.stringContaining("kept changing") })
        expect(storeCalls).toMatchObject({ get: 16, commit: 16 })
        expect(yield* store.get(session.sessionId)).toEqual(before)
      })
    ))
})

describe("Gateway.ingest", () => {
  it.effect("de-duplicates by event id and numbers events 1..n", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const conversation = session.providerConversationId!
        const joined = event("e1", { type: "agent.joined", data: { agent: { name: "Alice" } } })
        expect(yield* gateway.ingest("helvia-livechat", "t1", conversation, [joined], "socket")).toEqual({
          accepted: 1,
          unknown: 0
        })
        expect(yield* gateway.ingest("helvia-livechat", "t1", conversation, [joined], "socket")).toEqual({
          accepted: 0,
          unknown: 0
        })

        const more = [
          event("e2", { type: "agent.message", data: { text: "hi" } }),
          event("e3", { type: "agent.typing", data: { typing: true } })
        ]
        expect(yield* gateway.ingest("helvia-livechat", "t1", conversation, more, "socket")).toEqual({
          accepted: 2,
          unknown: 0
        })
        expect(yield* gateway.ingest("helvia-livechat", "t1", "unknown-conv", more, "socket")).toEqual({
          accepted: 0,
          unknown: 1
        })

        const delivered: ReadonlyArray<LivechatEvent> = yield* outboxEvents(session.sessionId, 4)
        // The request's first queue figures come first, as the request was placed.
        expect(delivered.map((e) => [e.id, e.seq, e.type])).toEqual([
          [`${session.sessionId}:queued:1`, 1, "request.queued"],
          ["e1", 2, "agent.joined"],
          ["e2", 3, "agent.message"],
          ["e3", 4, "agent.typing"]
        ])
        expect(delivered[1]).toMatchObject({ sessionId: session.sessionId, tenantId: "t1", subHandle: "sub1" })
        expect((yield* gateway.state("sub1", all)).state).toBe("active")
      })
    ))

  it.effect("a session's provider calls (its create, a message, its end) are in its timeline", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        yield* gateway.forwardMessage({ tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "hello" }, all)
        yield* gateway.terminate("t1", "sub1", all)
        const timeline = yield* Effect.flatMap(Timeline, (t) => t.read(session.sessionId))
        expect(timeline.flatMap((e) => e.kind === "provider.call" ? [e.operation] : [])).toEqual([
          "create",
          "sendMessage",
          "end"
        ])
      })
    ))

  it.effect("tells the session's timeline each event it applied and each it dropped, why, and how it came", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const conversation = session.providerConversationId!
        const ingest = (events: ReadonlyArray<ProviderEvent>, via: "socket" | "poll") =>
          gateway.ingest("helvia-livechat", "t1", conversation, events, via)
        const alice = { agent: { name: "Alice" } }
        const said = event("e3", { type: "agent.message", data: { text: "hi" } })
        yield* ingest([event("e0", { type: "agent.typing", data: { typing: true } })], "socket")
        yield* ingest([event("e1", { type: "agent.joined", data: alice })], "socket")
        yield* ingest([event("e1", { type: "agent.joined", data: alice })], "socket")
        // A poll's duplicates are its re-reading at work: not told.
        yield* ingest([event("e1", { type: "agent.joined", data: alice })], "poll")
        yield* ingest([event("e2", { type: "agent.joined", data: alice }), said, said], "poll")
        yield* gateway.terminate("t1", "sub1", all)
        yield* ingest([event("e4", { type: "agent.message", data: { text: "a word that must stay out" } })], "socket")

        const timeline = yield* Effect.flatMap(Timeline, (t) => t.read(session.sessionId))
        expect(
          timeline.flatMap((e) => e.kind === "event.received" || e.kind === "event.dropped" ? [e] : []).map((
            { at: _at, ...entry }
          ) => entry)
        ).toEqual([
          { kind: "event.dropped", eventId: "e0", type: "agent.typing", reason: "out-of-order", via: "socket" },
          { kind: "event.received", eventId: "e1", type: "agent.joined", via: "socket" },
          { kind: "event.dropped", eventId: "e1", type: "agent.joined", reason: "duplicate", via: "socket" },
          { kind: "event.dropped", eventId: "e2", type: "agent.joined", reason: "stale", via: "poll" },
          { kind: "event.received", eventId: "e3", type: "agent.message", via: "poll" },
          { kind: "event.dropped", eventId: "e4", type: "agent.message", reason: "session-ended", via: "socket" }
        ])
        // A cause before its effect: the join, then the state it moved the session to.
        const position = (match: (e: (typeof timeline)[number]) => boolean) => timeline.findIndex(match)
        expect(position((e) => e.kind === "event.received" && e.eventId === "e1")).toBeLessThan(
          position((e) => e.kind === "state" && e.to === "active")
        )
        // Ids and types only: no message text.
        expect(JSON.stringify(timeline)).not.toContain("must stay out")
      })
    ))
})

describe("Gateway.terminate", () => {
  it.effect("ends the session, emits session.ended and tells the provider", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        yield* gateway.terminate("t1", "sub1", all)
        const state = yield* gateway.state("sub1", all)
        expect(state.state).toBe("ended")
        expect(state.session?.endReason).toBe("user")
        const [, ended] = yield* outboxEvents(session.sessionId, 2)
        expect(ended).toMatchObject({ type: "session.ended", data: { reason: "user" }, seq: 2 })
        expect(calls.end.map((c) => [c.context.session.sessionId, c.reason])).toEqual([[session.sessionId, "user"]])

        const again = yield* Effect.flip(gateway.terminate("t1", "sub1", all))
        expect(again._tag).toBe("SessionNotFound")
      })
    ))
})

describe("Gateway.sweepTimeouts", () => {
  it.effect("ends a pending session after pendingSeconds with reason timeout", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "sub1" }, all)
        const sweep = gateway.sweepTimeouts(partitionOf(session.sessionId, PARTITIONS))
        yield* TestClock.adjust(Duration.seconds(PENDING_SECONDS - 1))
        expect((yield* sweep).ended).toBe(0)
        // Another partition's sweep does not touch it.
        expect((yield* gateway.sweepTimeouts((partitionOf(session.sessionId, PARTITIONS) + 1) % PARTITIONS)).ended)
          .toBe(0)
        yield* TestClock.adjust(Duration.seconds(2))
        expect((yield* gateway.sweepTimeouts((partitionOf(session.sessionId, PARTITIONS) + 1) % PARTITIONS)).ended)
          .toBe(0)
        expect((yield* sweep).ended).toBe(1)
        const state = yield* gateway.state("sub1", all)
        expect(state.session).toMatchObject({ status: "ended", endReason: "timeout" })
        const [, ended] = yield* outboxEvents(session.sessionId, 2)
        expect(ended).toMatchObject({ type: "session.ended", data: { reason: "timeout" } })
        expect(calls.end.map((c) => c.reason)).toEqual(["timeout"])
        expect((yield* sweep).ended).toBe(0)
      })
    ))

  it.effect("ends an idle active session after inactivitySeconds with reason inactivity", () =>
    withGateway(({ calls, gateway }) =>
      Effect.gen(function*() {
        const { session, sweep } = yield* activeSession(gateway)
        // Past the pending timeout but not the inactivity one: an active session stays.
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_SECONDS - 1))
        expect((yield* sweep).ended).toBe(0)
        yield* TestClock.adjust(Duration.seconds(2))
        expect((yield* sweep).ended).toBe(1)
        const store = yield* SessionStore
        const record = yield* store.get(session.sessionId)
        expect(Option.map(record, (r) => [r.status, r.endReason])).toEqual(Option.some(["ended", "inactivity"]))
        expect(calls.end.map((c) => c.reason)).toEqual(["inactivity"])
      })
    ))

  it.effect("a user message counts as activity: the inactivity timeout runs from the last one", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { sweep } = yield* activeSession(gateway)
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_SECONDS - 10))
        yield* gateway.forwardMessage({ tenantId: "t1", subHandle: "sub1", messageId: "m1", text: "still there?" }, all)
        // Past the inactivity timeout counted from the agent's join, not from the user's message.
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_SECONDS - 1))
        expect((yield* sweep).ended).toBe(0)
        yield* TestClock.adjust(Duration.seconds(2))
        expect((yield* sweep).ended).toBe(1)
        expect((yield* gateway.state("sub1", all)).session).toMatchObject({ status: "ended", endReason: "inactivity" })
      })
    ))
})

describe("Gateway.ingestWebhook", () => {
  /** A provider whose webhook names a source, with every step of its webhook side spied on. */
  const spiedWebhook = (sender: Option.Option<WebhookSender>) => {
    const seen = { wellFormed: 0, senderOf: 0, verify: 0, parse: 0 }
    const { provider } = makeFakeProvider()
    const webhook: NonNullable<LivechatProvider["webhook"]> = {
      authHeader: "x-key",
      wellFormed: (header) => (seen.wellFormed++, header.length === 8),
      senderOf: () => (seen.senderOf++, sender),
      verify: () => (seen.verify++, false),
      parse: () => Effect.sync(() => (seen.parse++, []))
    }
    return { provider: { ...provider, webhook }, seen }
  }

  /** The memory store, counting every call the gateway makes to it. */
  const countingStore = (calls: Array<string>) =>
    Layer.effect(
      SessionStore,
      Effect.map(SessionStore, (store) =>
        Object.fromEntries(
          Object.entries(store).map(([name, member]) => [
            name,
            typeof member === "function"
              ? (...args: Array<unknown>) => (calls.push(name), (member as (...a: Array<unknown>) => unknown)(...args))
              : member
          ])
        ) as unknown as typeof store)
    ).pipe(Layer.provideMerge(MemoryStoreLive({ partitions: PARTITIONS })))

  const ingestWith = (provider: LivechatProvider, headers: Record<string, string>, calls: Array<string>) =>
    Effect.gen(function*() {
      const ingest = yield* Ingest
      const body = new TextEncoder().encode(
        JSON.stringify({ events: Array.from({ length: 2_000 }, (_, i) => ({ id: i })) })
      )
      return yield* Effect.flip(ingest.ingestWebhook(provider.alias, { headers, body }))
    }).pipe(
      Effect.provide(
        UseCasesLive.pipe(
          Layer.provide(TimelineRecorderLive),
          Layer.provide(
            Layer.mergeAll(
              countingStore(calls),
              AppConfigTest,
              HbfCoreFake,
              Layer.succeed(ProviderRegistry, makeProviderRegistry([provider])),
              ProviderCallHealthLive.pipe(Layer.provide(AppConfigTest))
            )
          )
        )
      )
    )

  it.effect("an unsigned, a malformed or an unknown sender's webhook is refused without a store call, its body never decoded", () =>
    Effect.gen(function*() {
      for (
        const [headers, sender] of [
          [{}, Option.some({ _tag: "Source", source: "s" })],
          [{ "x-key": "short" }, Option.some({ _tag: "Source", source: "s" })],
          [{ "x-key": "8 chars!" }, Option.none()]
        ] as const
      ) {
        const calls: Array<string> = []
        const { provider, seen } = spiedWebhook(sender as Option.Option<WebhookSender>)
        const error = yield* ingestWith(provider, headers, calls)
        expect(error).toMatchObject({ _tag: "InvalidSignature", message: "the webhook could not be verified" })
        expect(calls).toEqual([])
        expect(seen.parse).toBe(0)
      }
    }))

  it.effect("a well-formed webhook costs one look-up of its sender, however many events its body holds", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const { provider, seen } = spiedWebhook(Option.some({ _tag: "Source", source: "s" }))
      const error = yield* ingestWith(provider, { "x-key": "8 chars!" }, calls)
      expect(error._tag).toBe("InvalidSignature")
      expect(calls).toEqual(["webhookSourceTenants"])
      expect(seen).toEqual({ wellFormed: 1, senderOf: 1, verify: 0, parse: 0 })
    }))
})

/** The events of the session in its outbox now (the memory outbox keeps them until acked: nothing acks here). */
const eventsOf = (sessionId: string) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const read: Array<LivechatEvent> = []
    const consumer = yield* Effect.fork(
      Stream.runForEach(
        outbox.consume(partitionOf(sessionId, PARTITIONS)),
        (e) => Effect.sync(() => read.push(e.event))
      )
    )
    yield* Effect.repeatN(Effect.yieldNow(), 20)
    yield* Fiber.interrupt(consumer)
    return read.filter((e) => e.sessionId === sessionId)
  })

/** Every partition swept once, as the sweepers of all partitions would. */
const sweepAll = (gateway: Gateway) =>
  Effect.forEach(Array.from({ length: PARTITIONS }, (_, p) => p), (p) => gateway.sweepTimeouts(p), { discard: true })

describe("Gateway queue figures (LCG_QUEUE_UPDATE_SECONDS 15)", () => {
  it.effect("positions 1, 2, 3 as placed; 1, 2 once the first is taken, at most once per interval, none after the wait", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const ids: Array<string> = []
        for (const sub of ["q1", "q2", "q3"]) {
          ids.push((yield* gateway.create({ tenantId: "t1", subHandle: sub, queue: "sales" }, all)).session.sessionId)
          yield* TestClock.adjust(Duration.seconds(1))
        }
        // Another queue of the tenant ranks apart.
        const other = (yield* gateway.create({ tenantId: "t1", subHandle: "q4" }, all)).session
        const queued = (sessionId: string) =>
          Effect.map(eventsOf(sessionId), (es) =>
            es.filter((e) => e.type === "request.queued").map((e) => (e.data as { position?: number }).position))
        expect(yield* Effect.forEach(ids, queued)).toEqual([[1], [2], [3]])
        expect(yield* queued(other.sessionId)).toEqual([1])
        const first = yield* gateway.state("q1", all)
        expect(first.session).toMatchObject({ position: 1, queueSource: "gateway" })
        expect(first.session?.estimatedWaitSeconds).toBeUndefined()

        yield* gateway.ingest("helvia-livechat", "t1", first.session!.providerConversationId!, [
          event("j1", { type: "agent.joined", data: { agent: { name: "Maria" } } })
        ], "socket")
        // Within the interval since they were told: nothing yet.
        yield* TestClock.adjust(Duration.seconds(5))
        yield* sweepAll(gateway)
        expect(yield* Effect.forEach(ids, queued)).toEqual([[1], [2], [3]])
        // Due: the two still waiting move up, once.
        yield* TestClock.adjust(Duration.seconds(10))
        yield* sweepAll(gateway)
        yield* sweepAll(gateway)
        expect(yield* Effect.forEach(ids, queued)).toEqual([[1], [2, 1], [3, 2]])
        expect((yield* gateway.state("q3", all)).session).toMatchObject({ position: 2 })
        // The next change waits out the interval since the last update.
        yield* gateway.terminate("t1", "q2", all)
        yield* TestClock.adjust(Duration.seconds(14))
        yield* sweepAll(gateway)
        expect(yield* queued(ids[2]!)).toEqual([3, 2])
        yield* TestClock.adjust(Duration.seconds(1))
        yield* sweepAll(gateway)
        expect(yield* queued(ids[2]!)).toEqual([3, 2, 1])
        // Unchanged figures are not told again; the one taken is told nothing more.
        yield* TestClock.adjust(Duration.seconds(30))
        yield* sweepAll(gateway)
        expect(yield* Effect.forEach(ids, queued)).toEqual([[1], [2, 1], [3, 2, 1]])
      })
    ))

  it.effect("a request whose create is under way is told nothing by a sweep: the provider may still refuse it", () =>
    withGateway(({ control, gateway }) =>
      Effect.gen(function*() {
        control.holdCreates = yield* Deferred.make<void>()
        control.failCreates = 1
        const create = yield* Effect.fork(Effect.either(gateway.create({ tenantId: "t1", subHandle: "slow" }, all)))
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        const { sessionId } = (yield* gateway.state("slow", all)).session!
        // Due by every measure (figures never told, waited past any interval), yet not accepted.
        yield* TestClock.adjust(Duration.seconds(60))
        yield* sweepAll(gateway)
        expect(yield* eventsOf(sessionId)).toEqual([])
        // The provider refuses: the request ends quietly (hbf-bot learns from the 502), and was never said to wait.
        yield* Deferred.succeed(control.holdCreates, undefined)
        expect((yield* Fiber.join(create))._tag).toBe("Left")
        expect(yield* eventsOf(sessionId)).toEqual([])
        expect((yield* gateway.state("slow", all)).state).toBe("ended")
      })
    ))

  it.effect("with enough assignments in the window, an estimate comes with the position", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        // Three requests assigned after 60 s each: one assignment per 300 s over the 15-minute window.
        for (const sub of ["a1", "a2", "a3"]) {
          const { session } = yield* gateway.create({ tenantId: "t1", subHandle: sub }, all)
          yield* TestClock.adjust(Duration.seconds(60))
          yield* gateway.ingest("helvia-livechat", "t1", session.providerConversationId!, [
            event(`j-${sub}`, { type: "agent.joined", data: { agent: {} } })
          ], "socket")
        }
        const { session } = yield* gateway.create({ tenantId: "t1", subHandle: "w1" }, all)
        expect(session).toMatchObject({ position: 1, estimatedWaitSeconds: 300, queueSource: "gateway" })
        const [queued] = yield* eventsOf(session.sessionId)
        expect(queued).toMatchObject({
          type: "request.queued",
          data: { position: 1, estimatedWaitSeconds: 300, source: "gateway" }
        })
      })
    ))
})

describe("Gateway queue figures and warnings racing other changes", () => {
  it.effect("an agent's join committed while the sweep decides on new figures wins: no figures after it, the chat stays active", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        yield* gateway.create({ tenantId: "t1", subHandle: "r1" }, all)
        yield* TestClock.adjust(Duration.seconds(1))
        const second = (yield* gateway.create({ tenantId: "t1", subHandle: "r2" }, all)).session
        expect(second.position).toBe(2)
        yield* gateway.terminate("t1", "r1", all)
        yield* TestClock.adjust(Duration.seconds(15))
        // The sweep finds the second request at position 1 now; the agent takes it just before the sweep commits.
        race.beforeNextCommit = gateway.ingest("helvia-livechat", "t1", second.providerConversationId!, [
          event("j2", { type: "agent.joined", data: { agent: { name: "Maria" } } })
        ], "socket")
        yield* sweepAll(gateway)
        expect((yield* eventsOf(second.sessionId)).map((e) => e.type)).toEqual(["request.queued", "agent.joined"])
        expect((yield* gateway.state("r2", all)).session).toMatchObject({ status: "active", agent: { name: "Maria" } })
      })
    ))

  it.effect("a user message recorded while the sweep decides on an inactivity warning refuses the warning", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "warned", subHandle: "r3" }, all)
        yield* gateway.ingest("helvia-livechat", "warned", session.providerConversationId!, [
          event("j3", { type: "agent.joined", data: { agent: {} } })
        ], "socket")
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_SECONDS - INACTIVITY_WARNING_SECONDS))
        race.beforeNextCommit = gateway.forwardMessage(
          { tenantId: "warned", subHandle: "r3", messageId: "m1", text: "here" },
          all
        )
        yield* sweepAll(gateway)
        expect((yield* eventsOf(session.sessionId)).map((e) => e.type)).toEqual(["request.queued", "agent.joined"])
      })
    ))
})

describe("Gateway warnings", () => {
  it.effect("a request waiting waitWarningSeconds gets request.wait-warning once, with its figures", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "warned", subHandle: "w1" }, all)
        const warnings = Effect.map(eventsOf(session.sessionId), (es) =>
          es.filter((e) => e.type === "request.wait-warning").map((e) => e.data))
        yield* TestClock.adjust(Duration.seconds(WAIT_WARNING_SECONDS - 1))
        yield* sweepAll(gateway)
        expect(yield* warnings).toEqual([])
        yield* TestClock.adjust(Duration.seconds(2))
        yield* sweepAll(gateway)
        yield* TestClock.adjust(Duration.seconds(10))
        yield* sweepAll(gateway)
        expect(yield* warnings).toEqual([{ waitedSeconds: WAIT_WARNING_SECONDS + 1, position: 1 }])
        // No activity: the pending timeout still runs from the creation.
        yield* TestClock.adjust(Duration.seconds(PENDING_SECONDS - WAIT_WARNING_SECONDS - 10))
        yield* sweepAll(gateway)
        expect((yield* gateway.state("w1", all)).session).toMatchObject({ status: "ended", endReason: "timeout" })
      })
    ))

  it.effect("an idle chat gets session.inactivity-warning before its close; a user message cancels it, and the next stretch is warned anew", () =>
    withGateway(({ gateway }) =>
      Effect.gen(function*() {
        const { session } = yield* gateway.create({ tenantId: "warned", subHandle: "w1" }, all)
        yield* gateway.ingest("helvia-livechat", "warned", session.providerConversationId!, [
          event("j1", { type: "agent.joined", data: { agent: {} } })
        ], "socket")
        const joinedAt = yield* Clock.currentTimeMillis
        const warnings = Effect.map(eventsOf(session.sessionId), (es) =>
          es.filter((e) => e.type === "session.inactivity-warning").map((e) => e.data))
        const iso = (ms: number) =>
          new Date(ms).toISOString()
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_SECONDS - INACTIVITY_WARNING_SECONDS - 1))
        yield* sweepAll(gateway)
        expect(yield* warnings).toEqual([])
        yield* TestClock.adjust(Duration.seconds(1))
        yield* sweepAll(gateway)
        yield* sweepAll(gateway)
        expect(yield* warnings).toEqual([{ endsAt: iso(joinedAt + INACTIVITY_SECONDS * 1000) }])

        // The user writes: no close at the warned time, and the next warning is for the new stretch.
        yield* TestClock.adjust(Duration.seconds(10))
        yield* gateway.forwardMessage({ tenantId: "warned", subHandle: "w1", messageId: "m1", text: "still here" }, all)
        const wroteAt = yield* Clock.currentTimeMillis
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_WARNING_SECONDS))
        yield* sweepAll(gateway)
        expect((yield* gateway.state("w1", all)).state).toBe("active")
        expect(yield* warnings).toHaveLength(1)
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_SECONDS - 2 * INACTIVITY_WARNING_SECONDS))
        yield* sweepAll(gateway)
        expect(yield* warnings).toEqual([
          { endsAt: iso(joinedAt + INACTIVITY_SECONDS * 1000) },
          { endsAt: iso(wroteAt + INACTIVITY_SECONDS * 1000) }
        ])
        // Then the close, at that time.
        yield* TestClock.adjust(Duration.seconds(INACTIVITY_WARNING_SECONDS + 1))
        yield* sweepAll(gateway)
        expect((yield* gateway.state("w1", all)).session).toMatchObject({ status: "ended", endReason: "inactivity" })
      })
    ))
})
