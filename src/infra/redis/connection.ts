/**
 * ioredis connections as scoped resources. Commands fail fast while Redis is away (no
 * offline queue, one retry, a command timeout), so a request turns into a 503 instead of
 * hanging; the client keeps reconnecting in the background and recovers by itself.
 */
import { Effect, Redacted, Runtime } from "effect"
import { Redis, type RedisOptions } from "ioredis"
import { StoreUnavailable } from "../../services/errors.js"
import { defineCommands } from "./commands.js"

export interface RedisConnectionOptions {
  readonly url: Redacted.Redacted<string>
  /** Names the connection in logs ("store", "subscriber"), never the URL: it may hold a password. */
  readonly name: string
  /** A subscriber queues its SUBSCRIBE until connected and resubscribes after a reconnect. */
  readonly subscriber?: boolean
  /** How long one command may take before it fails. */
  readonly commandTimeoutMs?: number
}

const CONNECT_TIMEOUT_MS = 2_000

/**
 * A command connection whose writes leave together: the socket is corked at the first command
 * and uncorked in the event loop's check phase (setImmediate), so every command issued while
 * the loop works through its ready I/O goes out in one syscall, which costs ~13 µs on the
 * machines measured. ioredis's auto-pipelining batches only per tick, builds a Pipeline per
 * batch (copying every defined script onto it), and keeps one batch in flight at a time. On the
 * forward path the gateway made 1.76 write syscalls per request (all its sockets), against 2.3
 * with auto-pipelining and 3.0 when uncorking per tick
 * (perf: docs/ARCHITECTURE.md#perf-pipelined-redis).
 */
class CoalescingRedis extends Redis {
  #corked = false
  override sendCommand(command: Parameters<Redis["sendCommand"]>[0], stream?: Parameters<Redis["sendCommand"]>[1]) {
    if (!this.#corked && this.status === "ready") {
      const socket = this.stream
      socket.cork()
      this.#corked = true
      setImmediate(() => {
        this.#corked = false
        socket.uncork()
      })
    }
    return super.sendCommand(command, stream)
  }
}

/** A connected (or connecting) client, quit when the scope closes. Boot does not wait for Redis beyond a short grace. */
export const redisConnection = (options: RedisConnectionOptions) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      const log = (effect: Effect.Effect<void>) => Runtime.runFork(runtime)(effect)
      const settings: RedisOptions = {
        connectionName: `hbf-lcg:${options.name}`,
        connectTimeout: CONNECT_TIMEOUT_MS,
        retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
        ...(options.subscriber === true
          ? { enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true }
          : {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: options.commandTimeoutMs ?? 2_000
          })
      }
      // A command connection coalesces its writes (CoalescingRedis); a subscriber's few writes are its (re)subscriptions.
      // perf: docs/ARCHITECTURE.md#perf-pipelined-redis
      const redis = options.subscriber === true
        ? new Redis(Redacted.value(options.url), settings)
        : new CoalescingRedis(Redacted.value(options.url), settings)
      // A subscriber sends no commands; a command connection speaks every script of the gateway.
      if (options.subscriber !== true) defineCommands(redis)
      // Without a listener ioredis prints every failed reconnect; log the outage once and the recovery once.
      let down = false
      redis.on("error", (error: Error) => {
        if (down) return
        down = true
        log(Effect.logWarning("redis connection lost; retrying", { connection: options.name, reason: error.message }))
      })
      redis.on("ready", () => {
        if (!down) return
        down = false
        log(Effect.logInfo("redis connection restored", { connection: options.name }))
      })
      return redis
    }),
    // Release runs uninterruptibly, so the polite QUIT gets a timer of its own rather than an Effect timeout.
    (redis) =>
      Effect.promise(() =>
        redis.status === "ready"
          ? Promise.race([redis.quit().catch(() => "closed"), new Promise((done) => setTimeout(done, 1_000))])
          : Promise.resolve()
      ).pipe(Effect.ensuring(Effect.sync(() => redis.disconnect())))
  ).pipe(
    // Outside the (uninterruptible) acquire, so the grace period can time out.
    Effect.tap((redis) =>
      Effect.async<void>((resume) => {
        if (redis.status === "ready") return resume(Effect.void)
        const onReady = () => resume(Effect.void)
        redis.once("ready", onReady)
        return Effect.sync(() => redis.off("ready", onReady))
      }).pipe(
        Effect.timeoutTo({
          duration: CONNECT_TIMEOUT_MS,
          onSuccess: () => Effect.void,
          onTimeout: () =>
            Effect.logWarning("redis is not reachable yet; starting unready and retrying", { connection: options.name })
        }),
        Effect.flatten
      )
    )
  )

/** Runs one Redis call; any failure (down, timeout, script error) is the typed `StoreUnavailable`. */
export const redisCall = <A>(op: string, f: () => Promise<A>): Effect.Effect<A, StoreUnavailable> =>
  Effect.tryPromise({
    try: f,
    catch: (cause) =>
      new StoreUnavailable({
        message: `store unavailable (${op}): ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })

/** Data read from the store that does not decode is as unusable as an unreachable store. */
export const corruptStoreData = (what: string) => (e: unknown) =>
  new StoreUnavailable({ message: `corrupt ${what} in the store: ${e instanceof Error ? e.message : String(e)}` })
