/**
 * The cluster's RPC transport on a real Redis: replies find their calls among many in
 * flight to several instances, typed errors arrive typed, a call that runs too long is a
 * `ClusterCallTimeout` and is interrupted where it runs, a call to nobody fails at once.
 */
import { Rpc, RpcClient, RpcGroup, RpcServer } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Redacted, Schema } from "effect"
import { callInstance, makeRedisRpcProtocols } from "../../src/cluster/RedisRpcProtocol.js"
import { redisConnection } from "../../src/infra/redis/connection.js"
import { testRedisUrl, uniquePrefix } from "./redis.js"

class Refused extends Schema.TaggedError<Refused>()("Refused", { reason: Schema.String }) {}

class TestRpcs extends RpcGroup.make(
  Rpc.make("Echo", {
    payload: { text: Schema.String, delayMs: Schema.Int },
    success: Schema.Struct({ text: Schema.String, by: Schema.String })
  }),
  Rpc.make("Refuse", { payload: { reason: Schema.String }, error: Refused }),
  Rpc.make("Hang", { success: Schema.String })
) {}

const prefix = uniquePrefix("rpc")
const channelOf = (id: string) => `${prefix}:rpc:${id}`
const url = Redacted.make(testRedisUrl)

/** An instance on its own connections: serves TestRpcs and calls others. `hung` completes when a Hang call is interrupted. */
const instance = (instanceId: string) =>
  Effect.gen(function*() {
    const redis = yield* redisConnection({ url, name: instanceId })
    const subscriber = yield* redisConnection({ url, name: `${instanceId}-subscriber`, subscriber: true })
    const protocols = yield* makeRedisRpcProtocols({ redis, subscriber, instanceId, channelOf })
    const hangInterrupted = yield* Deferred.make<void>()
    const handlers = yield* TestRpcs.toHandlersContext({
      Echo: ({ delayMs, text }) => Effect.as(Effect.sleep(Duration.millis(delayMs)), { text, by: instanceId }),
      Refuse: ({ reason }) => Effect.fail(new Refused({ reason })),
      Hang: () => Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(hangInterrupted, undefined)))
    })
    yield* RpcServer.make(TestRpcs).pipe(
      Effect.provide(handlers),
      Effect.provideService(RpcServer.Protocol, protocols.server),
      Effect.forkScoped
    )
    const client = yield* RpcClient.make(TestRpcs).pipe(Effect.provideService(RpcClient.Protocol, protocols.client))
    // Calls can go out only once the others listen: wait until this instance's own channel has its subscriber.
    yield* Effect.promise(() => redis.pubsub("NUMSUB", channelOf(instanceId)) as Promise<[string, number]>).pipe(
      Effect.repeat({ until: ([, listeners]) => Number(listeners) > 0 })
    )
    return { client, hangInterrupted }
  })

const second = Duration.seconds(1)

describe("RPC over Redis pub/sub", () => {
  it.scopedLive("replies are matched to their calls among hundreds in flight to two instances", () =>
    Effect.gen(function*() {
      yield* instance("rpc-a")
      yield* instance("rpc-b")
      const { client } = yield* instance("rpc-caller")
      const calls = Array.from({ length: 300 }, (_, i) => ({
        target: i % 2 === 0 ? "rpc-a" : "rpc-b",
        text: `call ${i}`,
        delayMs: (i * 7) % 40
      }))
      const replies = yield* Effect.forEach(
        calls,
        ({ delayMs, target, text }) =>
          callInstance(target, "Echo", Duration.seconds(5), (options) => client.Echo({ text, delayMs }, options)),
        { concurrency: "unbounded" }
      )
      expect(replies).toEqual(calls.map(({ target, text }) => ({ text, by: target })))
    }))

  it.scopedLive("a typed error of the remote handler arrives as that error", () =>
    Effect.gen(function*() {
      yield* instance("rpc-refuser")
      const { client } = yield* instance("rpc-asker")
      const result = yield* callInstance("rpc-refuser", "Refuse", second, (options) =>
        client.Refuse({ reason: "not today" }, options)).pipe(Effect.either)
      expect(result).toEqual(Either.left(new Refused({ reason: "not today" })))
    }))

  it.scopedLive("a call not answered in time is a ClusterCallTimeout, and the remote handler is interrupted", () =>
    Effect.gen(function*() {
      const remote = yield* instance("rpc-slow")
      const { client } = yield* instance("rpc-impatient")
      const startedAt = Date.now()
      const result = yield* callInstance(
        "rpc-slow",
        "Hang",
        Duration.millis(300),
        (options) => client.Hang(undefined, options)
      ).pipe(Effect.flip)
      expect(result._tag).toBe("ClusterCallTimeout")
      expect(result).toMatchObject({ instanceId: "rpc-slow", call: "Hang" })
      expect(Date.now() - startedAt).toBeLessThan(1_000)
      yield* Deferred.await(remote.hangInterrupted).pipe(Effect.timeout(Duration.seconds(2)))
    }))

  it.scopedLive("a call to an instance nobody runs fails at once as InstanceUnreachable", () =>
    Effect.gen(function*() {
      const { client } = yield* instance("rpc-lonely")
      const startedAt = Date.now()
      const result = yield* callInstance("rpc-gone", "Echo", Duration.seconds(5), (options) =>
        client.Echo({ text: "anyone?", delayMs: 0 }, options)).pipe(Effect.flip)
      expect(result._tag).toBe("InstanceUnreachable")
      expect(result).toMatchObject({ instanceId: "rpc-gone" })
      expect(Date.now() - startedAt).toBeLessThan(1_000)
    }))

  it.scopedLive("garbage on an instance's channel is ignored and calls go on", () =>
    Effect.gen(function*() {
      yield* instance("rpc-robust")
      const { client } = yield* instance("rpc-sender")
      const redis = yield* redisConnection({ url, name: "garbage" })
      for (const garbage of ["not json", "{}", JSON.stringify({ from: "x", kind: "request", message: 42 })]) {
        yield* Effect.promise(() => redis.publish(channelOf("rpc-robust"), garbage))
      }
      const reply = yield* callInstance("rpc-robust", "Echo", second, (options) =>
        client.Echo({ text: "still there", delayMs: 0 }, options))
      expect(reply).toEqual({ text: "still there", by: "rpc-robust" })
    }))
})
