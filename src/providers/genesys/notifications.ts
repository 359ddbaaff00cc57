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
 */
import { HttpClientRequest } from "@effect/platform"
import { Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Layer, Option, Queue, Schedule, Schema, Scope } from "effect"
import WebSocket from "ws"
import type { ProviderEvent } from "../../domain/model.js"
import { isOpen } from "../../domain/stateMachine.js"
import { Coordinator } from "../../services/Coordinator.js"
import { Gateway } from "../../services/Gateway.js"
import { HbfCore } from "../../services/HbfCore.js"
import { SessionStore } from "../../services/SessionStore.js"
import {
  credentialsOf,
  GenesysApi,
  GenesysApiError,
  type GenesysApiService,
  type GenesysCredentials,
  partitionOfCredentials
} from "./client.js"
import { conversationOver, type DetailKind, mapConversation, mapDetailEvent, parseDetailTopic, topicsOf } from "./mapper.js"
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
  topicsPerChannel: 1000
}

type Input =
  | { readonly _tag: "Frame"; readonly socket: number; readonly text: string }
  | { readonly _tag: "Closed"; readonly socket: number }
  | { readonly _tag: "Changed" }
  | { readonly _tag: "Check"; readonly conversationId: string }
  | { readonly _tag: "Tick" }

const decodeFrame = Schema.decodeUnknownEither(NotificationFrame)
const decodeDetail = Schema.decodeUnknownEither(DetailEvent)

interface ChannelDeps {
  readonly api: GenesysApiService
  /** Ingests the events of a conversation; fails when the store is away. */
  readonly ingest: (conversationId: string, events: ReadonlyArray<ProviderEvent>) => Effect.Effect<void, { message: string }>
}

interface Channel {
  readonly follow: (conversationId: string) => Effect.Effect<void>
  readonly replace: (conversationIds: ReadonlySet<string>) => Effect.Effect<void>
  readonly stop: Effect.Effect<void>
}

/** Why a connected channel ended, to log and to decide how soon to connect again. */
type CycleEnd = "socket closed" | "socket closing announced" | "socket silent" | "renewal due" | "nothing to follow"

/** The channel of one credential set: connects, follows, reconnects with backoff, renews. */
const startChannel = (credentials: GenesysCredentials, deps: ChannelDeps, parent: Scope.Scope) =>
  Effect.gen(function* () {
    const { api } = deps
    const inbox = yield* Queue.unbounded<Input>()
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    /** What should be followed; the cycle brings the channel's subscriptions in line with it. */
    let wanted = new Set<string>()
    /** Conversations whose events could not be ingested, re-read at the next tick. */
    const dirty = new Set<string>()
    const names = new Map<string, string | undefined>()
    let socketCount = 0

    const call = <A, I>(request: HttpClientRequest.HttpClientRequest, answer: Schema.Schema<A, I>) =>
      api.call(credentials, request, answer)

    const agentName = (userId: string) =>
      names.has(userId)
        ? Effect.succeed(names.get(userId))
        : call(HttpClientRequest.get(`/api/v2/users/${encodeURIComponent(userId)}`), GenesysUser).pipe(
            Effect.map((user) => user.name),
            Effect.orElseSucceed(() => undefined),
            Effect.tap((name) => Effect.sync(() => void names.set(userId, name)))
          )

    const ingest = (conversationId: string, events: ReadonlyArray<ProviderEvent>) =>
      events.length === 0
        ? Effect.void
        : deps.ingest(conversationId, events).pipe(
            Effect.retry(Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(4)))),
            Effect.catchAll((e) =>
              Effect.zipRight(
                Effect.logWarning("could not ingest Genesys events; the conversation is re-read later", { conversationId, reason: e.message }),
                Effect.sync(() => void dirty.add(conversationId))
              )
            )
          )

    const checkLater = (conversationId: string, after: Duration.Duration) =>
      Effect.asVoid(Effect.forkIn(Effect.delay(Queue.offer(inbox, { _tag: "Check", conversationId }), after), scope))

    /** Re-reads a conversation: ingests what it shows, and stops following it once it is over. */
    const reconcile = (conversationId: string) =>
      Effect.gen(function* () {
        const read = yield* Effect.either(
          call(HttpClientRequest.get(`/api/v2/conversations/messages/${encodeURIComponent(conversationId)}`), Conversation)
        )
        if (Either.isLeft(read)) {
          if (read.left.status === 404) {
            yield* Effect.logWarning("Genesys no longer knows a followed conversation; no longer following it", { conversationId })
            wanted.delete(conversationId)
            return
          }
          dirty.add(conversationId)
          return yield* Effect.logWarning("could not re-read a Genesys conversation; trying again later", { conversationId, reason: read.left.message })
        }
        dirty.delete(conversationId)
        const conversation = read.right
        const events = [...mapConversation(conversation)]
        const now = Date.now()
        const over = conversationOver(conversation, now, Duration.toMillis(notificationTimings.agentLeftGrace))
        if (over !== undefined && !events.some((e) => e.id === over.id)) events.push(over)
        yield* ingest(conversationId, events)
        if (over !== undefined) {
          wanted.delete(conversationId)
          return
        }
        // Every agent gone by a plain leave: over unless one joins within the grace.
        const agents = conversation.participants.filter((p) => p.purpose === "agent")
        if (agents.length > 0 && agents.every((p) => p.state === "disconnected" || p.state === "terminated")) {
          yield* checkLater(conversationId, notificationTimings.agentLeftGrace)
        }
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
        yield* ingest(conversationId, mapDetailEvent(kind, detail.right, name))
        if (kind === "customer.end") wanted.delete(conversationId)
        else if (kind === "acw") yield* reconcile(conversationId)
        else if (kind === "user.end" && !detail.right.disconnectType?.toLowerCase().startsWith("transfer")) {
          yield* checkLater(conversationId, notificationTimings.agentLeftGrace)
        }
      })

    const subscriptions = (channelId: string) => `/api/v2/notifications/channels/${encodeURIComponent(channelId)}/subscriptions`
    const topicsBody = (conversationIds: Iterable<string>) => {
      const topics = [...conversationIds].flatMap(topicsOf)
      if (topics.length > notificationTimings.topicsPerChannel) {
        return Effect.as(
          Effect.logError("more open Genesys conversations than one notifications channel can follow; some are not followed", {
            credentials: credentials.id,
            topics: topics.length
          }),
          topics.slice(0, notificationTimings.topicsPerChannel).map((id) => ({ id }))
        )
      }
      return Effect.succeed(topics.map((id) => ({ id })))
    }

    const openSocket = (uri: string, socket: number) =>
      Effect.acquireRelease(
        Effect.async<WebSocket, GenesysApiError>((resume) => {
          const ws = new WebSocket(uri, { handshakeTimeout: 10_000 })
          let settled = false
          ws.on("message", (data) => Queue.unsafeOffer(inbox, { _tag: "Frame", socket, text: String(data) }))
          ws.on("close", () => Queue.unsafeOffer(inbox, { _tag: "Closed", socket }))
          ws.on("open", () => {
            settled = true
            resume(Effect.succeed(ws))
          })
          ws.on("error", (error) => {
            if (settled) return
            settled = true
            resume(Effect.fail(new GenesysApiError({ message: `the notifications socket did not open: ${error.message}` })))
          })
        }),
        (ws) => Effect.sync(() => ws.terminate())
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
        const ws = yield* openSocket(channel.connectUri, socket)
        // A tick at the renewal time, in case it comes sooner than the next regular one.
        yield* Effect.forkScoped(Effect.delay(Queue.offer(inbox, { _tag: "Tick" }), Duration.millis(Math.max(0, renewAt - Date.now()))))
        let subscribed = new Set(wanted)
        yield* call(HttpClientRequest.put(subscriptions(channel.id)).pipe(HttpClientRequest.bodyUnsafeJson(yield* topicsBody(subscribed))), Schema.Unknown)
        connected()
        yield* Effect.logInfo("Genesys notifications connected", { credentials: credentials.id, conversations: subscribed.size })
        // What happened while no socket listened is only in the conversations themselves.
        yield* Effect.forEach([...subscribed], reconcile, { discard: true })
        let lastFrameAt = Date.now()
        let lastPingAt = Date.now()
        for (;;) {
          const input = yield* Queue.take(inbox)
          switch (input._tag) {
            case "Frame": {
              if (input.socket !== socket) break
              lastFrameAt = Date.now()
              const frame = decodeFrame(input.text)
              if (Either.isLeft(frame)) break
              if (frame.right.topicName === "v2.system.socket_closing") return "socket closing announced" satisfies CycleEnd
              const detail = parseDetailTopic(frame.right.topicName)
              if (detail !== undefined) yield* onDetail(detail.kind, detail.conversationId, frame.right.eventBody)
              break
            }
            case "Closed":
              if (input.socket === socket) return "socket closed" satisfies CycleEnd
              break
            case "Check":
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
              for (const conversationId of [...dirty]) if (wanted.has(conversationId)) yield* reconcile(conversationId)
              break
            }
            case "Changed":
              break
          }
          // Follow and unfollow, whatever woke the loop (a notification may have ended a conversation).
          const added = [...wanted].filter((c) => !subscribed.has(c))
          const removed = [...subscribed].filter((c) => !wanted.has(c))
          if (removed.length > 0) {
            yield* call(HttpClientRequest.put(subscriptions(channel.id)).pipe(HttpClientRequest.bodyUnsafeJson(yield* topicsBody(wanted))), Schema.Unknown)
          } else if (added.length > 0) {
            yield* call(HttpClientRequest.post(subscriptions(channel.id)).pipe(HttpClientRequest.bodyUnsafeJson(yield* topicsBody(added))), Schema.Unknown)
          }
          subscribed = new Set(wanted)
          // A conversation may have changed before its topics were followed.
          yield* Effect.forEach(added, reconcile, { discard: true })
          if (wanted.size === 0) return "nothing to follow" satisfies CycleEnd
        }
      }).pipe(Effect.scoped)

    const run = Effect.gen(function* () {
      let failures = 0
      for (;;) {
        if (wanted.size === 0) {
          // Nothing to follow: no channel until there is.
          yield* Queue.take(inbox).pipe(Effect.repeat({ until: () => wanted.size > 0 }))
        }
        const end = yield* Effect.either(cycle(() => void (failures = 0)))
        if (Either.isLeft(end)) {
          failures++
          yield* Effect.logWarning("Genesys notifications failed; reconnecting", { credentials: credentials.id, reason: end.left.message, failures })
        } else {
          if (end.right !== "renewal due" && end.right !== "nothing to follow") failures++
          yield* Effect.logInfo("Genesys notifications channel ended; connecting again", { credentials: credentials.id, reason: end.right })
        }
        if (failures > 0) {
          const backoff = Math.min(Duration.toMillis(notificationTimings.reconnectMax), Duration.toMillis(notificationTimings.reconnectBase) * 2 ** (failures - 1))
          yield* Effect.sleep(Duration.millis(backoff * (0.5 + Math.random() / 2)))
        }
      }
    })

    const ticker = Effect.forever(Effect.zipRight(Effect.sleep(notificationTimings.tick), Queue.offer(inbox, { _tag: "Tick" })))
    const fibers = [yield* Effect.forkIn(run, scope), yield* Effect.forkIn(ticker, scope)]
    const changed = Queue.offer(inbox, { _tag: "Changed" })
    const channel: Channel = {
      follow: (conversationId) => Effect.zipRight(Effect.sync(() => void wanted.add(conversationId)), changed),
      replace: (conversationIds) => Effect.zipRight(Effect.sync(() => void (wanted = new Set(conversationIds))), changed),
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
    const scope = yield* Effect.scope
    const owned = new Set<number>()
    const channels = new Map<string, { readonly partition: number; readonly channel: Channel }>()
    const resyncSoon = yield* Queue.sliding<void>(1)

    const deps: ChannelDeps = {
      api,
      ingest: (conversationId, events) => Effect.asVoid(gateway.ingest(alias, conversationId, events))
    }
    const partitionOf = (credentials: GenesysCredentials) => partitionOfCredentials(credentials, coordinator.partitions)

    const credentialsOfTenant = (tenantId: string) =>
      Effect.map(core.tenant(tenantId), (tenant) =>
        Either.isRight(tenant.livechat) && tenant.livechat.right.provider === alias
          ? Option.some(credentialsOf(tenant.livechat.right.genesys))
          : Option.none()
      )

    const channelFor = (credentials: GenesysCredentials) =>
      Effect.gen(function* () {
        const running = channels.get(credentials.id)
        if (running !== undefined) return running.channel
        const channel = yield* startChannel(credentials, deps, scope)
        channels.set(credentials.id, { partition: partitionOf(credentials), channel })
        return channel
      })

    const follow = (conversationId: string) =>
      Effect.gen(function* () {
        const session = yield* store.byConversation(alias, conversationId)
        if (Option.isNone(session) || !isOpen(session.value.status)) return false
        const credentials = yield* credentialsOfTenant(session.value.tenantId)
        if (Option.isNone(credentials) || !owned.has(partitionOf(credentials.value))) return false
        yield* (yield* channelFor(credentials.value)).follow(conversationId)
        return true
      }).pipe(
        Effect.catchAll((e) =>
          Effect.as(Effect.logWarning("could not follow a Genesys conversation; the resync will", { conversationId, reason: e.message }), false)
        )
      )

    /** Every open Genesys conversation of a credential set served here, from the store. */
    const resync = Effect.gen(function* () {
      const wanted = new Map<string, { credentials: GenesysCredentials; conversations: Set<string> }>()
      for (let partition = 0; partition < coordinator.partitions; partition++) {
        for (const session of yield* store.openSessions(partition)) {
          if (session.provider !== alias || session.providerConversationId === undefined) continue
          const credentials = yield* Effect.orElseSucceed(credentialsOfTenant(session.tenantId), () => Option.none())
          if (Option.isNone(credentials) || !owned.has(partitionOf(credentials.value))) continue
          const entry = wanted.get(credentials.value.id) ?? { credentials: credentials.value, conversations: new Set<string>() }
          entry.conversations.add(session.providerConversationId)
          wanted.set(credentials.value.id, entry)
        }
      }
      for (const [id, { credentials, conversations }] of wanted) {
        if (!channels.has(id)) yield* channelFor(credentials)
        yield* channels.get(id)!.channel.replace(conversations)
      }
      for (const [id, running] of channels) {
        if (!wanted.has(id)) yield* running.channel.replace(new Set())
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

    yield* coordinator.runPerPartition("genesys-notifications", ({ answer, handOver, partition }) =>
      Effect.gen(function* () {
        owned.add(partition)
        yield* answer(followKind, follow)
        yield* Queue.offer(resyncSoon, undefined)
        yield* handOver
        owned.delete(partition)
        for (const [id, running] of channels) {
          if (running.partition !== partition) continue
          channels.delete(id)
          yield* running.channel.stop
        }
      })
    )
  })
)
