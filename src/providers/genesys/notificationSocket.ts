/**
 * The transport of a Genesys notifications channel (docs/PROVIDERS.md#notifications-websocket):
 * creates the channel, opens its socket, pings, notices silence and announced closes, renews
 * before the channel or its token expires, and reconnects with backoff. What is followed and
 * what a notification means is the follow protocol's (notificationProtocol.ts); every input
 * reaches it through one inbox, one at a time.
 *
 * What the socket receives is bounded: a frame over LCG_UPSTREAM_MAX_BODY_BYTES closes it
 * (the channel reconnects and re-reads, as after any drop), and frames wait in the inbox up
 * to `inboxBytes`: past that the socket stops reading, so TCP holds Genesys back until the
 * channel has caught up. Nothing is dropped on the way.
 */
import { HttpClientRequest } from "@effect/platform"
import { Clock, Duration, Effect, Either, ExecutionStrategy, Exit, Fiber, Queue, Schedule, Schema, Scope } from "effect"
import WebSocket from "ws"
import type { ProviderEvent } from "../../domain/model.js"
import type { ProviderEgressGuardService } from "../../services/ProviderEgressGuard.js"
import { ProviderApiError } from "../providerCalls.js"
import type { GenesysApiService, GenesysCredentials } from "./client.js"
import {
  makeFollowProtocol,
  notificationTimings,
  type RefusedTopic,
  type Subscriptions
} from "./notificationProtocol.js"
import { ChannelTopicListing, Conversation, GenesysUser, NotificationChannel, NotificationFrame } from "./schemas.js"

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

export interface ChannelDeps {
  readonly api: GenesysApiService
  /** Where the socket may connect. */
  readonly egress: ProviderEgressGuardService
  /** Ingests the events of a conversation of the tenant; fails when the store is away. */
  readonly ingest: (
    tenantId: string,
    conversationId: string,
    events: ReadonlyArray<ProviderEvent>,
    via: "socket" | "poll"
  ) => Effect.Effect<void, { message: string }>
  /** LCG_UPSTREAM_MAX_BODY_BYTES: a larger frame closes the socket. */
  readonly maxFrameBytes: number
}

export interface Channel {
  readonly follow: (conversationId: string) => Effect.Effect<void>
  /** Follows exactly these (a snapshot of the store taken at `since`, epoch ms), keeping what was followed after it. */
  readonly replace: (conversationIds: ReadonlySet<string>, since: number) => Effect.Effect<void>
  readonly stop: Effect.Effect<void>
  /** Whether Genesys refused topics in its latest subscription answer (their conversations are re-read on a schedule). */
  readonly topicsRefused: () => boolean
}

/** The topics a subscription answer refuses (`state` "Rejected"); the others are followed. */
export const refusedTopics = (answer: ChannelTopicListing): ReadonlyArray<RefusedTopic> =>
  answer.entities
    .filter((topic) => topic.state?.toLowerCase() === "rejected")
    .map((topic) => ({
      topic: topic.id,
      reason: topic.rejectionReason,
      missingPermissions: topic.missingPermissions ?? []
    }))

/** Why a connected channel ended, to log and to decide how soon to connect again. */
type CycleEnd =
  | "socket closed"
  | "frame over the size limit"
  | "socket closing announced"
  | "socket silent"
  | "renewal due"
  | "nothing to follow"

/** Ends that say nothing is wrong: the next channel is connected at once. */
const cleanEnds: ReadonlyArray<CycleEnd> = ["renewal due", "nothing to follow"]

/** The close code of a socket that received a message larger than it takes (RFC 6455). */
const MESSAGE_TOO_BIG = 1009

/**
 * The wait before connecting again after the n-th failure in a row: doubling from
 * `reconnectBase`, at most `reconnectMax`, each shortened by up to half at random so the
 * channels of many instances do not come back at once.
 */
export const reconnectBackoff = Schedule.exponential(notificationTimings.reconnectBase).pipe(
  Schedule.union(Schedule.spaced(notificationTimings.reconnectMax)),
  Schedule.jitteredWith({ min: 0.5, max: 1 })
)

/**
 * Whether a connected socket is alive, by the Clock: Genesys heartbeats every 30 s, so a
 * socket with no frame for `silenceLimit` is dead; one is pinged every `pingInterval`.
 */
export const makeLiveness = Effect.map(Clock.currentTimeMillis, (connectedAt) => {
  let lastFrameAt = connectedAt
  let lastPingAt = connectedAt
  return {
    frame: Effect.map(Clock.currentTimeMillis, (now) => void (lastFrameAt = now)),
    /** What the socket needs now. */
    due: Effect.map(Clock.currentTimeMillis, (now): "silent" | "ping" | "nothing" => {
      if (now - lastFrameAt > Duration.toMillis(notificationTimings.silenceLimit)) return "silent"
      if (now - lastPingAt < Duration.toMillis(notificationTimings.pingInterval)) return "nothing"
      lastPingAt = now
      return "ping"
    })
  }
})

/**
 * The channel of one credential set: connects, follows, reconnects with backoff, renews.
 * Exported for the tests that run it against a socket of their own.
 */
export const startChannel = (credentials: GenesysCredentials, deps: ChannelDeps, parent: Scope.Scope) =>
  Effect.gen(function*() {
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
    let socketCount = 0

    const call = <A, I>(request: HttpClientRequest.HttpClientRequest, answer: Schema.Schema<A, I>) =>
      api.call(credentials, request, answer)

    const protocol = makeFollowProtocol(
      {
        label: credentials.label,
        readConversation: (conversationId) =>
          call(
            HttpClientRequest.get(`/api/v2/conversations/messages/${encodeURIComponent(conversationId)}`),
            Conversation
          ),
        readAgentName: (userId) =>
          Effect.map(
            call(HttpClientRequest.get(`/api/v2/users/${encodeURIComponent(userId)}`), GenesysUser),
            (user) => user.name
          ),
        ingest: (conversationId, events, via) => deps.ingest(credentials.tenantId, conversationId, events, via),
        wake: (conversationId) => Queue.offer(inbox, { _tag: "Check", conversationId })
      },
      scope
    )

    const subscriptionsOf = (channelId: string): Subscriptions => {
      const path = `/api/v2/notifications/channels/${encodeURIComponent(channelId)}/subscriptions`
      const body = (topics: ReadonlyArray<string>) => HttpClientRequest.bodyUnsafeJson(topics.map((id) => ({ id })))
      return {
        replace: (topics) =>
          Effect.map(call(HttpClientRequest.put(path).pipe(body(topics)), ChannelTopicListing), refusedTopics),
        add: (topics) =>
          Effect.map(call(HttpClientRequest.post(path).pipe(body(topics)), ChannelTopicListing), refusedTopics)
      }
    }

    /**
     * Opens the socket; interruptible (a hand-over does not wait out a slow handshake), closed with the cycle's scope.
     * The addresses its name resolves to are checked as it connects (`uri` itself is checked by the caller).
     */
    const openSocket = (uri: string, socket: number) =>
      Effect.uninterruptibleMask((restore) =>
        restore(
          Effect.async<WebSocket, ProviderApiError>((resume) => {
            const ws = new WebSocket(uri, {
              handshakeTimeout: 10_000,
              lookup: egress.lookup,
              maxPayload: deps.maxFrameBytes
            })
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
              resume(
                Effect.fail(
                  new ProviderApiError({
                    provider: "genesys-livechat",
                    message: `the notifications socket did not open: ${error.message}`
                  })
                )
              )
            })
            return Effect.sync(() => ws.terminate())
          })
        ).pipe(Effect.tap((ws) => Effect.addFinalizer(() => Effect.sync(() => ws.terminate()))))
      )

    /** One connected channel, from its creation to its end; answers why it ended. */
    const cycle = (connected: Effect.Effect<void>) =>
      Effect.gen(function*() {
        const token = yield* api.token(credentials)
        const channel = yield* call(
          HttpClientRequest.post("/api/v2/notifications/channels").pipe(HttpClientRequest.bodyUnsafeJson({})),
          NotificationChannel
        )
        const expires = channel.expires !== undefined ? Date.parse(channel.expires) : Number.NaN
        const createdAt = yield* Clock.currentTimeMillis
        // Renewed well before the channel or its token expires: past either, nothing is delivered.
        const renewAt = Math.min(
          Number.isNaN(expires) ? Number.POSITIVE_INFINITY : createdAt + (expires - createdAt) * 0.9,
          token.expiresAt
        )
        const socket = ++socketCount
        // Genesys' answer, from a host the tenant may have chosen: confined like the tenant's own URLs.
        yield* Effect.mapError(
          egress.checkUrl(channel.connectUri, "socket"),
          (refused) =>
            new ProviderApiError({
              provider: "genesys-livechat",
              message: `notifications connectUri: ${refused.message}`
            })
        )
        const ws = yield* openSocket(channel.connectUri, socket)
        // A tick at the renewal time, in case it comes sooner than the next regular one.
        yield* Effect.forkScoped(
          Effect.delay(offerTick, Duration.millis(Math.max(0, renewAt - (yield* Clock.currentTimeMillis))))
        )
        const subscriptions = subscriptionsOf(channel.id)
        yield* protocol.connected
        const followed = yield* protocol.align(subscriptions)
        yield* connected
        yield* Effect.logInfo("Genesys notifications connected", {
          credentials: credentials.label,
          conversations: followed
        })
        const liveness = yield* makeLiveness

        /** Handles one input; answers why the channel ends, if it does. */
        const handle = (input: Input): Effect.Effect<CycleEnd | undefined, ProviderApiError> =>
          Effect.gen(function*() {
            switch (input._tag) {
              case "Frame": {
                // Frames of an earlier socket of this channel still count: ids make repeats harmless.
                if (input.socket === socket) yield* liveness.frame
                const frame = decodeFrame(input.text)
                if (Either.isLeft(frame)) break
                if (frame.right.topicName === "v2.system.socket_closing" && input.socket === socket) {
                  return "socket closing announced"
                }
                yield* protocol.notification(frame.right.topicName, frame.right.eventBody)
                break
              }
              case "Closed":
                if (input.socket === socket) {
                  return input.code === MESSAGE_TOO_BIG
                    ? "frame over the size limit"
                    : "socket closed"
                }
                break
              case "Check":
                yield* protocol.check(input.conversationId)
                break
              case "Tick": {
                const due = yield* liveness.due
                if (due === "silent") return "socket silent"
                const current = yield* Effect.either(api.token(credentials))
                if (
                  (yield* Clock.currentTimeMillis) >= renewAt ||
                  (Either.isRight(current) && current.right.value !== token.value)
                ) return "renewal due"
                if (due === "ping") ws.send(JSON.stringify({ message: "ping" }))
                yield* protocol.tick
                break
              }
              case "Changed":
                break
            }
            // Follow and unfollow, whatever woke the loop (a notification may have ended a conversation).
            yield* protocol.align(subscriptions)
            return protocol.nothingToFollow() ? "nothing to follow" : undefined
          })
        const untilEnd: Effect.Effect<CycleEnd, ProviderApiError> = Effect.flatMap(nextInput, handle).pipe(
          Effect.flatMap((end) => (end === undefined ? Effect.suspend(() => untilEnd) : Effect.succeed(end)))
        )
        return yield* untilEnd
      }).pipe(Effect.scoped)

    /** Connects again and again: at once after a clean end, after the backoff after a failure (reset once a channel connects). */
    const run = Effect.gen(function*() {
      const backoff = yield* Schedule.driver(reconnectBackoff)
      const connectOnce = Effect.gen(function*() {
        // Nothing to follow: no channel until there is.
        if (protocol.nothingToFollow()) {
          yield* nextInput.pipe(Effect.repeat({ until: () => !protocol.nothingToFollow() }))
        }
        const end = yield* Effect.either(cycle(backoff.reset))
        yield* Either.match(end, {
          onLeft: (e) =>
            Effect.logWarning("Genesys notifications failed; reconnecting", {
              credentials: credentials.label,
              reason: e.message
            }),
          onRight: (reason) =>
            Effect.logInfo("Genesys notifications channel ended; connecting again", {
              credentials: credentials.label,
              reason
            })
        })
        if (Either.isRight(end) && cleanEnds.includes(end.right)) return
        // The schedule never ends: its driver cannot fail.
        yield* Effect.orDie(backoff.next(undefined))
      })
      return yield* Effect.forever(connectOnce)
    })

    const ticker = Effect.forever(Effect.zipRight(Effect.sleep(notificationTimings.tick), offerTick))
    const fibers = [yield* Effect.forkIn(run, scope), yield* Effect.forkIn(ticker, scope)]
    const channel: Channel = {
      follow: (conversationId) => Effect.zipRight(protocol.follow(conversationId), changed),
      replace: (conversationIds, since) => Effect.zipRight(protocol.replace(conversationIds, since), changed),
      stop: Effect.zipRight(Fiber.interruptAll(fibers), Scope.close(scope, Exit.void)),
      topicsRefused: protocol.topicsRefused
    }
    return channel
  })
