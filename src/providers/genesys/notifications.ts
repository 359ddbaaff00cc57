/**
 * The Genesys notifications socket (PROVIDERS.md "Notifications WebSocket"): the only
 * source of agent joined / left and of the conversation's end.
 *
 * One channel per credential set, run by the instance that owns the credential set's
 * partition (so it moves with the partition on failover or leave). The channel follows
 * the detail topics of every open conversation of that credential set: `follow` requests
 * (from whichever instance created the session) add one at once; a resync against the
 * store adds what a lost request missed and drops the conversations that ended elsewhere.
 *
 * Notifications sent while no socket is connected are lost, so after every (re)connect,
 * and when a conversation is first followed, the conversation is re-read and whatever it
 * shows is ingested; event ids are the same on both paths, so nothing is doubled.
 *
 * What the socket receives is bounded: a frame over LCG_UPSTREAM_MAX_BODY_BYTES closes it
 * (the channel reconnects and re-reads, as after any drop), and frames wait in the channel's
 * inbox up to `inboxBytes`: past that the socket stops reading, so TCP holds Genesys back
 * until the channel has caught up. Nothing is dropped on the way.
 */
import { HttpClientRequest } from "@effect/platform"
import { Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Layer, Option, Queue, Schedule, Schema, Scope } from "effect"
import WebSocket from "ws"
import type { ProviderEvent } from "../../domain/model.js"
import { isOpen } from "../../domain/stateMachine.js"
import { tenantConfigFor } from "../../domain/tenant.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Coordinator } from "../../services/Coordinator.js"
import { Gateway } from "../../services/Gateway.js"
import { HbfCore } from "../../services/HbfCore.js"
import { ProviderEgressGuard, type ProviderEgressGuardService } from "../../services/ProviderEgressGuard.js"
import { SessionStore } from "../../services/SessionStore.js"
import {
  credentialsOf,
  GenesysApi,
  GenesysApiError,
  type GenesysApiService,
  type GenesysCredentials,
  partitionOfCredentials
} from "./client.js"
import {
  conversationOver,
  detailKinds,
  type DetailKind,
  ended,
  graceEndsAt,
  mapConversation,
  mapDetailEvent,
  parseDetailTopic,
  topicsOf
} from "./mapper.js"
import { followKind } from "./provider.js"
import { Conversation, DetailEvent, GenesysUser, NotificationChannel, NotificationFrame } from "./schemas.js"

const alias = "genesys-livechat" as const

export const notificationTimings = {
  /** A plain agent disconnect ends the conversation only if no agent joins within this: a transfer looks the same for a moment. */
  agentLeftGrace: Duration.seconds(10),
  /** How often the followed conversations are checked against the store. */
  resyncInterval: Duration.seconds(60),
  /** The server heartbeats every 30 s; silence for longer than this is a dead socket. */
  silenceLimit: Duration.seconds(75),
  pingInterval: Duration.seconds(30),
  tick: Duration.seconds(5),
  reconnectBase: Duration.millis(500),
  reconnectMax: Duration.seconds(30),
  /** Genesys' limit; a channel follows at most this many topics (4 per conversation). */
  topicsPerChannel: 1000,
  /** A conversation Genesys answers 404 for this many re-reads in a row is gone. */
  notFoundLimit: 3,
  /**
   * Bytes of frames received and not yet handled past which the socket stops reading; it
   * reads again once they are down to half. Beyond it the inbox holds at most what the socket
   * had already read (one read) and one input of each other kind per cause.
   */
  inboxBytes: 4 * 1024 * 1024
}

/** What a socket has read and the channel not yet handled. */
interface Backlog {
  bytes: number
  readonly ws: WebSocket
}

type Input =
  | { readonly _tag: "Frame"; readonly socket: number; readonly text: string; readonly backlog: Backlog }
  | { readonly _tag: "Closed"; readonly socket: number; readonly code: number }
  | { readonly _tag: "Changed" }
  | { readonly _tag: "Check"; readonly conversationId: string }
  | { readonly _tag: "Tick" }

const decodeFrame = Schema.decodeUnknownEither(NotificationFrame)
const decodeDetail = Schema.decodeUnknownEither(DetailEvent)

interface ChannelDeps {
  readonly api: GenesysApiService
  /** Where the socket may connect. */
  readonly egress: ProviderEgressGuardService
  /** Ingests the events of a conversation of the tenant; fails when the store is away. */
  readonly ingest: (tenantId: string, conversationId: string, events: ReadonlyArray<ProviderEvent>) => Effect.Effect<void, { message: string }>
  /** LCG_UPSTREAM_MAX_BODY_BYTES: a larger frame closes the socket. */
  readonly maxFrameBytes: number
}

interface Channel {
  readonly follow: (conversationId: string) => Effect.Effect<void>
  /** Follows exactly these (a snapshot of the store taken at `since`, epoch ms), keeping what was followed after it. */
  readonly replace: (conversationIds: ReadonlySet<string>, since: number) => Effect.Effect<void>
  readonly stop: Effect.Effect<void>
}

/** Why a connected channel ended, to log and to decide how soon to connect again. */
type CycleEnd = "socket closed" | "frame over the size limit" | "socket closing announced" | "socket silent" | "renewal due" | "nothing to follow"

/** The close code of a socket that received a message larger than it takes (RFC 6455). */
const MESSAGE_TOO_BIG = 1009

/** How many conversations one channel can follow (Genesys' topic limit, four topics each). */
const conversationsPerChannel = Math.floor(notificationTimings.topicsPerChannel / detailKinds.length)

/**
 * The channel of one credential set: connects, follows, reconnects with backoff, renews.
 * Exported for the tests that run it against a socket of their own.
 */
export const startChannel = (credentials: GenesysCredentials, deps: ChannelDeps, parent: Scope.Scope) =>
  Effect.gen(function* () {
    const { api, egress } = deps
    /**
     * Every input of the channel's loop. Unbounded as a queue, bounded by what offers to it:
     * frames by their socket's backlog, ticks and changes one at a time (a queued one stands
     * for any that come meanwhile), checks one per conversation, and one close per socket.
     */
    const inbox = yield* Queue.unbounded<Input>()
    let tickQueued = false
    let changeQueued = false
    const offerTick = Effect.sync(() => {
      if (tickQueued) return
      tickQueued = true
      Queue.unsafeOffer(inbox, { _tag: "Tick" })
    })
    const changed = Effect.sync(() => {
      if (changeQueued) return
      changeQueued = true
      Queue.unsafeOffer(inbox, { _tag: "Changed" })
    })
    /** The next input; a frame taken makes room in its socket's backlog (a paused socket reads again at half). */
    const nextInput = Effect.map(Queue.take(inbox), (input) => {
      if (input._tag === "Frame") {
        const backlog = input.backlog
        backlog.bytes -= input.text.length
        if (backlog.ws.isPaused && backlog.bytes <= notificationTimings.inboxBytes / 2) backlog.ws.resume()
      } else if (input._tag === "Tick") tickQueued = false
      else if (input._tag === "Changed") changeQueued = false
      return input
    })
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    /** What should be followed, in the order it was asked for; the cycle brings the subscriptions in line with it. */
    const wanted = new Map<string, number>()
    /** Conversations whose events could not be ingested, re-read at the next tick. */
    const dirty = new Set<string>()
    /** Conversations with a re-read scheduled (a plain agent leave waiting out its grace). */
    const checking = new Set<string>()
    /** Consecutive re-reads that Genesys answered 404. */
    const missing = new Map<string, number>()
    const names = new Map<string, string | undefined>()
    let socketCount = 0

    const unfollow = (conversationId: string) => {
      wanted.delete(conversationId)
      dirty.delete(conversationId)
      missing.delete(conversationId)
    }

    const call = <A, I>(request: HttpClientRequest.HttpClientRequest, answer: Schema.Schema<A, I>) =>
      api.call(credentials, request, answer)

    const agentName = (userId: string) =>
      names.has(userId)
        ? Effect.succeed(names.get(userId))
        : call(HttpClientRequest.get(`/api/v2/users/${encodeURIComponent(userId)}`), GenesysUser).pipe(
            Effect.map((user) => user.name),
            Effect.tap((name) => Effect.sync(() => void names.set(userId, name))),
            // Not remembered: the next join asks again.
            Effect.orElseSucceed(() => undefined)
          )

    /** Ingests with a few retries; answers whether the events are stored (else the conversation is re-read later). */
    const ingest = (conversationId: string, events: ReadonlyArray<ProviderEvent>) =>
      events.length === 0
        ? Effect.succeed(true)
        : deps.ingest(credentials.tenantId, conversationId, events).pipe(
            Effect.retry(Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(4)))),
            Effect.as(true),
            Effect.catchAll((e) =>
              Effect.as(
                Effect.zipRight(
                  Effect.logWarning("could not ingest Genesys events; the conversation is re-read later", { conversationId, reason: e.message }),
                  Effect.sync(() => void dirty.add(conversationId))
                ),
                false
              )
            )
          )

    /** One pending re-read per conversation, at `at` (epoch ms). */
    const checkAt = (conversationId: string, at: number) =>
      checking.has(conversationId)
        ? Effect.void
        : Effect.zipRight(
            Effect.sync(() => void checking.add(conversationId)),
            Effect.asVoid(
              Effect.forkIn(
                Effect.delay(Queue.offer(inbox, { _tag: "Check", conversationId }), Duration.millis(Math.max(0, at - Date.now()))),
                scope
              )
            )
          )

    /** Re-reads a conversation: ingests what it shows, and stops following it once it is over. */
    const reconcile = (conversationId: string) =>
      Effect.gen(function* () {
        const read = yield* Effect.either(
          call(HttpClientRequest.get(`/api/v2/conversations/messages/${encodeURIComponent(conversationId)}`), Conversation)
        )
        if (Either.isLeft(read)) {
          dirty.add(conversationId)
          if (read.left.status !== 404) {
            return yield* Effect.logWarning("could not re-read a Genesys conversation; trying again later", { conversationId, reason: read.left.message })
          }
          // A new conversation may not be readable yet; one Genesys keeps denying is gone, and so is its livechat.
          const denials = (missing.get(conversationId) ?? 0) + 1
          missing.set(conversationId, denials)
          if (denials < notificationTimings.notFoundLimit) return
          yield* Effect.logWarning("Genesys no longer knows a followed conversation; ending its livechat", { conversationId })
          if (yield* ingest(conversationId, [ended(conversationId, Date.now(), "provider")])) unfollow(conversationId)
          return
        }
        dirty.delete(conversationId)
        missing.delete(conversationId)
        const conversation = read.right
        const events = [...mapConversation(conversation)]
        const graceMs = Duration.toMillis(notificationTimings.agentLeftGrace)
        const over = conversationOver(conversation, Date.now(), graceMs)
        if (over !== undefined && !events.some((e) => e.id === over.id)) events.push(over)
        const stored = yield* ingest(conversationId, events)
        if (over !== undefined) {
          if (stored) unfollow(conversationId)
          return
        }
        const lookAgainAt = graceEndsAt(conversation, graceMs)
        if (lookAgainAt !== undefined) yield* checkAt(conversationId, lookAgainAt)
      })

    const onDetail = (kind: DetailKind, conversationId: string, body: unknown) =>
      Effect.gen(function* () {
        if (!wanted.has(conversationId)) return
        const detail = decodeDetail(body)
        if (Either.isLeft(detail)) {
          yield* Effect.logWarning("unreadable Genesys notification; re-reading the conversation", { conversationId, kind })
          return yield* reconcile(conversationId)
        }
        const name = kind === "user.start" && detail.right.userId !== undefined ? yield* agentName(detail.right.userId) : undefined
        const stored = yield* ingest(conversationId, mapDetailEvent(kind, detail.right, name))
        if (kind === "customer.end") {
          if (stored) unfollow(conversationId)
        } else if (kind === "acw") {
          yield* reconcile(conversationId)
        } else if (kind === "user.end" && !detail.right.disconnectType?.toLowerCase().startsWith("transfer")) {
          yield* checkAt(conversationId, detail.right.eventTime + Duration.toMillis(notificationTimings.agentLeftGrace))
        }
      })

    const subscriptions = (channelId: string) => `/api/v2/notifications/channels/${encodeURIComponent(channelId)}/subscriptions`
    const topicsBody = (conversationIds: Iterable<string>) => [...conversationIds].flatMap(topicsOf).map((id) => ({ id }))

    /** What one channel can follow: the conversations asked for first, up to its topic limit. */
    const followable = () => {
      const conversations = [...wanted.keys()]
      return { conversations: new Set(conversations.slice(0, conversationsPerChannel)), overflow: Math.max(0, conversations.length - conversationsPerChannel) }
    }

    /**
     * Opens the socket; interruptible (a hand-over does not wait out a slow handshake), closed with the cycle's scope.
     * The addresses its name resolves to are checked as it connects (`uri` itself is checked by the caller).
     */
    const openSocket = (uri: string, socket: number) =>
      Effect.uninterruptibleMask((restore) =>
        restore(
          Effect.async<WebSocket, GenesysApiError>((resume) => {
            const ws = new WebSocket(uri, { handshakeTimeout: 10_000, lookup: egress.lookup, maxPayload: deps.maxFrameBytes })
            const backlog: Backlog = { bytes: 0, ws }
            let settled = false
            ws.on("message", (data) => {
              const text = String(data)
              backlog.bytes += text.length
              if (backlog.bytes > notificationTimings.inboxBytes && !ws.isPaused) ws.pause()
              Queue.unsafeOffer(inbox, { _tag: "Frame", socket, text, backlog })
            })
            ws.on("close", (code) => Queue.unsafeOffer(inbox, { _tag: "Closed", socket, code }))
            ws.on("open", () => {
              settled = true
              resume(Effect.succeed(ws))
            })
            ws.on("error", (error) => {
              if (settled) return
              settled = true
              resume(Effect.fail(new GenesysApiError({ message: `the notifications socket did not open: ${error.message}` })))
            })
            return Effect.sync(() => ws.terminate())
          })
        ).pipe(Effect.tap((ws) => Effect.addFinalizer(() => Effect.sync(() => ws.terminate()))))
      )

    /** One connected channel, from its creation to its end; answers why it ended. */
    const cycle = (connected: () => void) =>
      Effect.gen(function* () {
        const token = yield* api.token(credentials)
        const channel = yield* call(HttpClientRequest.post("/api/v2/notifications/channels").pipe(HttpClientRequest.bodyUnsafeJson({})), NotificationChannel)
        const expires = channel.expires !== undefined ? Date.parse(channel.expires) : Number.NaN
        const createdAt = Date.now()
        // Renewed well before the channel or its token expires: past either, nothing is delivered.
        const renewAt = Math.min(
          Number.isNaN(expires) ? Number.POSITIVE_INFINITY : createdAt + (expires - createdAt) * 0.9,
          token.expiresAt
        )
        const socket = ++socketCount
        // Genesys' answer, from a host the tenant may have chosen: confined like the tenant's own URLs.
        yield* Effect.mapError(
          egress.checkUrl(channel.connectUri, "socket"),
          (refused) => new GenesysApiError({ message: `notifications connectUri: ${refused.message}` })
        )
        const ws = yield* openSocket(channel.connectUri, socket)
        // A tick at the renewal time, in case it comes sooner than the next regular one.
        yield* Effect.forkScoped(Effect.delay(offerTick, Duration.millis(Math.max(0, renewAt - Date.now()))))
        let subscribed = new Set<string>()
        let overflowReported = 0
        /** Brings the subscriptions in line with what is wanted, and re-reads what was just added. */
        const align = Effect.gen(function* () {
          const { conversations, overflow } = followable()
          if (overflow > 0 && overflow !== overflowReported) {
            overflowReported = overflow
            yield* Effect.logError("more open Genesys conversations than one notifications channel can follow; the latest are not followed", {
              credentials: credentials.label,
              notFollowed: overflow
            })
          }
          const added = [...conversations].filter((c) => !subscribed.has(c))
          const removed = [...subscribed].filter((c) => !conversations.has(c))
          if (removed.length > 0 || subscribed.size === 0) {
            yield* call(HttpClientRequest.put(subscriptions(channel.id)).pipe(HttpClientRequest.bodyUnsafeJson(topicsBody(conversations))), Schema.Unknown)
          } else if (added.length > 0) {
            yield* call(HttpClientRequest.post(subscriptions(channel.id)).pipe(HttpClientRequest.bodyUnsafeJson(topicsBody(added))), Schema.Unknown)
          }
          const wasEmpty = subscribed.size === 0
          subscribed = conversations
          // What happened before a conversation's topics were followed is only in the conversation itself.
          yield* Effect.forEach(wasEmpty ? [...conversations] : added, reconcile, { discard: true })
        })
        yield* align
        connected()
        yield* Effect.logInfo("Genesys notifications connected", { credentials: credentials.label, conversations: subscribed.size })
        let lastFrameAt = Date.now()
        let lastPingAt = Date.now()
        for (;;) {
          const input = yield* nextInput
          switch (input._tag) {
            case "Frame": {
              // Frames of an earlier socket of this channel still count: ids make repeats harmless.
              if (input.socket === socket) lastFrameAt = Date.now()
              const frame = decodeFrame(input.text)
              if (Either.isLeft(frame)) break
              if (frame.right.topicName === "v2.system.socket_closing" && input.socket === socket) return "socket closing announced" satisfies CycleEnd
              const detail = parseDetailTopic(frame.right.topicName)
              if (detail !== undefined) yield* onDetail(detail.kind, detail.conversationId, frame.right.eventBody)
              break
            }
            case "Closed":
              if (input.socket === socket) return (input.code === MESSAGE_TOO_BIG ? "frame over the size limit" : "socket closed") satisfies CycleEnd
              break
            case "Check":
              checking.delete(input.conversationId)
              if (wanted.has(input.conversationId)) yield* reconcile(input.conversationId)
              break
            case "Tick": {
              const now = Date.now()
              if (now - lastFrameAt > Duration.toMillis(notificationTimings.silenceLimit)) return "socket silent" satisfies CycleEnd
              const current = yield* Effect.either(api.token(credentials))
              if (now >= renewAt || (Either.isRight(current) && current.right.value !== token.value)) return "renewal due" satisfies CycleEnd
              if (now - lastPingAt >= Duration.toMillis(notificationTimings.pingInterval)) {
                lastPingAt = now
                ws.send(JSON.stringify({ message: "ping" }))
              }
              for (const conversationId of [...dirty]) {
                if (wanted.has(conversationId)) yield* reconcile(conversationId)
                else dirty.delete(conversationId)
              }
              break
            }
            case "Changed":
              break
          }
          // Follow and unfollow, whatever woke the loop (a notification may have ended a conversation).
          yield* align
          if (wanted.size === 0) return "nothing to follow" satisfies CycleEnd
        }
      }).pipe(Effect.scoped)

    const run = Effect.gen(function* () {
      let failures = 0
      for (;;) {
        if (wanted.size === 0) {
          // Nothing to follow: no channel until there is.
          yield* nextInput.pipe(Effect.repeat({ until: () => wanted.size > 0 }))
        }
        const end = yield* Effect.either(cycle(() => void (failures = 0)))
        if (Either.isLeft(end)) {
          failures++
          yield* Effect.logWarning("Genesys notifications failed; reconnecting", { credentials: credentials.label, reason: end.left.message, failures })
        } else {
          if (end.right !== "renewal due" && end.right !== "nothing to follow") failures++
          yield* Effect.logInfo("Genesys notifications channel ended; connecting again", { credentials: credentials.label, reason: end.right })
        }
        if (failures > 0) {
          const backoff = Math.min(Duration.toMillis(notificationTimings.reconnectMax), Duration.toMillis(notificationTimings.reconnectBase) * 2 ** (failures - 1))
          yield* Effect.sleep(Duration.millis(backoff * (0.5 + Math.random() / 2)))
        }
      }
    })

    const ticker = Effect.forever(Effect.zipRight(Effect.sleep(notificationTimings.tick), offerTick))
    const fibers = [yield* Effect.forkIn(run, scope), yield* Effect.forkIn(ticker, scope)]
    const channel: Channel = {
      follow: (conversationId) =>
        Effect.zipRight(
          Effect.sync(() => void (wanted.has(conversationId) || wanted.set(conversationId, Date.now()))),
          changed
        ),
      replace: (conversationIds, since) =>
        Effect.zipRight(
          Effect.sync(() => {
            for (const [conversationId, followedAt] of wanted) {
              // Followed after the snapshot was taken: newer than what the snapshot knows.
              if (!conversationIds.has(conversationId) && followedAt < since) unfollow(conversationId)
            }
            for (const conversationId of conversationIds) if (!wanted.has(conversationId)) wanted.set(conversationId, Date.now())
          }),
          changed
        ),
      stop: Effect.zipRight(Fiber.interruptAll(fibers), Scope.close(scope, Exit.void))
    }
    return channel
  })

/**
 * Runs the Genesys notification channels of the credential sets whose partitions this
 * instance owns, and answers `follow` requests for them from any instance.
 */
export const GenesysNotificationsLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const coordinator = yield* Coordinator
    const store = yield* SessionStore
    const core = yield* HbfCore
    const gateway = yield* Gateway
    const api = yield* GenesysApi
    const egress = yield* ProviderEgressGuard
    const scope = yield* Effect.scope
    const owned = new Set<number>()
    const channels = new Map<string, { readonly partition: number; readonly channel: Channel }>()
    const resyncSoon = yield* Queue.sliding<void>(1)

    const deps: ChannelDeps = {
      api,
      egress,
      ingest: (tenantId, conversationId, events) => Effect.asVoid(gateway.ingest(alias, tenantId, conversationId, events)),
      maxFrameBytes: (yield* AppConfig).upstream.maxBodyBytes
    }
    const partitionOf = (credentials: GenesysCredentials) => partitionOfCredentials(credentials, coordinator.partitions)

    const credentialsOfTenant = (tenantId: string) =>
      Effect.map(core.tenant(tenantId), (tenant) => Option.map(tenantConfigFor(tenant, alias), (own) => credentialsOf(tenantId, own.genesys)))

    /** Starting and stopping channels, one at a time: ownership is checked and acted on together. */
    const channelsLock = yield* Effect.makeSemaphore(1)

    /** The credential set's channel, started if need be; none when this instance does not own its partition (any more). */
    const channelFor = (credentials: GenesysCredentials) =>
      channelsLock.withPermits(1)(
        Effect.gen(function* () {
          const partition = partitionOf(credentials)
          if (!owned.has(partition)) return Option.none<Channel>()
          const running = channels.get(credentials.id)
          if (running !== undefined) return Option.some(running.channel)
          const channel = yield* startChannel(credentials, deps, scope)
          channels.set(credentials.id, { partition, channel })
          return Option.some(channel)
        })
      )

    /** Follows the conversation of a session (a follow request names the session: its record says the tenant and conversation). */
    const follow = (sessionId: string) =>
      Effect.gen(function* () {
        const session = Option.filter(yield* store.get(sessionId), (s) => s.provider === alias && isOpen(s.status))
        const conversationId = Option.getOrUndefined(Option.flatMapNullable(session, (s) => s.providerConversationId))
        if (Option.isNone(session) || conversationId === undefined) return false
        const credentials = yield* credentialsOfTenant(session.value.tenantId)
        if (Option.isNone(credentials)) return false
        const channel = yield* channelFor(credentials.value)
        if (Option.isNone(channel)) return false
        yield* channel.value.follow(conversationId)
        return true
      }).pipe(
        Effect.catchAll((e) =>
          Effect.as(Effect.logWarning("could not follow a Genesys conversation; the resync will", { sessionId, reason: e.message }), false)
        )
      )

    /**
     * Every open Genesys conversation of a credential set served here, from the store. When
     * a tenant cannot be looked up, its conversations are unknown: nothing is unfollowed then.
     */
    const resync = Effect.gen(function* () {
      const since = Date.now()
      const wanted = new Map<string, { credentials: GenesysCredentials; conversations: Set<string> }>()
      let complete = true
      for (let partition = 0; partition < coordinator.partitions; partition++) {
        for (const session of yield* store.openSessions(partition)) {
          if (session.provider !== alias || session.providerConversationId === undefined) continue
          const credentials = yield* Effect.either(credentialsOfTenant(session.tenantId))
          if (Either.isLeft(credentials)) {
            complete = false
            continue
          }
          if (Option.isNone(credentials.right) || !owned.has(partitionOf(credentials.right.value))) continue
          const entry = wanted.get(credentials.right.value.id) ?? { credentials: credentials.right.value, conversations: new Set<string>() }
          entry.conversations.add(session.providerConversationId)
          wanted.set(credentials.right.value.id, entry)
        }
      }
      for (const { conversations, credentials } of wanted.values()) {
        const channel = yield* channelFor(credentials)
        if (Option.isNone(channel)) continue
        if (complete) yield* channel.value.replace(conversations, since)
        else yield* Effect.forEach(conversations, channel.value.follow, { discard: true })
      }
      if (!complete) return yield* Effect.logWarning("Genesys notifications resync could not look every tenant up; nothing unfollowed")
      for (const [id, running] of channels) {
        if (!wanted.has(id)) yield* running.channel.replace(new Set(), since)
      }
    })

    yield* resync.pipe(
      Effect.catchAll((e) => Effect.logWarning("Genesys notifications resync failed", { reason: e.message })),
      Effect.zipRight(Effect.raceFirst(Queue.take(resyncSoon), Effect.sleep(notificationTimings.resyncInterval))),
      // Partitions arrive in bursts at boot and on failover: one resync for the burst.
      Effect.zipRight(Effect.sleep(Duration.millis(200))),
      Effect.forever,
      Effect.forkScoped
    )

    /** Stops the channels of a partition handed over, all at once. */
    const stopPartition = (partition: number) =>
      channelsLock.withPermits(1)(
        Effect.suspend(() => {
          owned.delete(partition)
          const leaving = [...channels].filter(([, running]) => running.partition === partition)
          for (const [id] of leaving) channels.delete(id)
          return Effect.forEach(leaving, ([, running]) => running.channel.stop, { concurrency: "unbounded", discard: true })
        })
      )

    yield* coordinator.runPerPartition("genesys-notifications", ({ answer, handOver, partition }) =>
      Effect.gen(function* () {
        owned.add(partition)
        yield* answer(followKind, follow)
        yield* Queue.offer(resyncSoon, undefined)
        yield* handOver
      }).pipe(Effect.ensuring(stopPartition(partition)))
    )
  })
)
