/**
 * Genesys' notifications service: channels, their topic subscriptions, and the streaming
 * WebSocket (`connectUri`) that carries every event of a subscribed topic, with heartbeats and
 * ping/pong; a notification for a channel without a live socket or a valid token is lost.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import WebSocket, { WebSocketServer } from "ws"
import { json } from "../http/answers.js"
import { param } from "../http/requests.js"
import type { Loopback } from "../http/serve.js"
import type { ApiRoute } from "./auth.js"
import {
  type ChannelState,
  conversationBody,
  type ConversationState,
  type GenesysState,
  type Instant,
  tokenValid
} from "./state.js"
import { apiBody, fail, Subscriptions } from "./wire.js"

const MAX_CHANNELS_PER_CLIENT = 20
const MAX_TOPICS_PER_CHANNEL = 1000

const isOpen = (ws: WebSocket | undefined): ws is WebSocket => ws !== undefined && ws.readyState === WebSocket.OPEN

const frame = (topicName: string, eventBody: unknown) =>
  JSON.stringify({ topicName, version: "2", eventBody, metadata: { CorrelationId: randomUUID() } })

/** The streaming sockets' server (upgrades are routed by hand); every socket is cut when the Scope closes. */
const webSocketServer = (channels: Map<string, ChannelState>): Effect.Effect<WebSocketServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new WebSocketServer({ noServer: true })),
    (wss) =>
      Effect.async<void>((resume) => {
        for (const channel of channels.values()) clearInterval(channel.heartbeat)
        for (const ws of wss.clients) ws.terminate()
        wss.close(() => resume(Effect.void))
      })
  )

export interface Notifications {
  /** The queue topic: the conversation as it is now. */
  readonly publishQueue: (c: ConversationState) => void
  /** A detail event of the conversation (`customer.start`, `user.end`, `acw`...). */
  readonly publishDetail: (c: ConversationState, event: string, at: Instant, body: Record<string, unknown>) => void
  /** Cuts every streaming socket abruptly (no close frame). */
  readonly dropSockets: Effect.Effect<void>
  /** Announces v2.system.socket_closing on every socket, then closes them. */
  readonly closeSockets: Effect.Effect<void>
  readonly listChannels: () => ReadonlyArray<
    {
      channelId: string
      clientId: string
      connected: boolean
      topics: ReadonlyArray<string>
      rejectedTopics: ReadonlyArray<string>
    }
  >
  /** `/api/v2/notifications/channels…`: create, probe (HEAD), and subscribe. */
  readonly router: HttpRouter.HttpRouter
}

export const makeNotifications = (
  state: GenesysState,
  loopback: Loopback,
  api: ApiRoute
): Effect.Effect<Notifications, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { channels } = state
    const wss = yield* webSocketServer(channels)

    const closeChannelSocket = (channel: ChannelState, reason: string) => {
      clearInterval(channel.heartbeat)
      channel.heartbeat = undefined
      if (channel.socket !== undefined && channel.socket.readyState <= WebSocket.OPEN) {
        channel.socket.close(1000, reason)
      }
      channel.socket = undefined
    }

    /** Forgets channels past their life (their sockets close). */
    const sweepChannels = () => {
      const t = Date.now()
      for (const channel of channels.values()) {
        if (channel.expiresAt <= t) {
          closeChannelSocket(channel, "channel expired")
          channels.delete(channel.id)
        }
      }
    }

    const liveChannel = (id: string, clientId?: string): ChannelState | undefined => {
      sweepChannels()
      const channel = channels.get(id)
      return channel !== undefined && (clientId === undefined || channel.clientId === clientId) ? channel : undefined
    }

    /** Delivers to connected sockets of subscribed channels whose token still holds; otherwise the notification is lost. */
    const publish = (topicName: string, eventBody: unknown) => {
      sweepChannels()
      for (const channel of channels.values()) {
        if (isOpen(channel.socket) && tokenValid(channel.token) && channel.topics.includes(topicName)) {
          channel.socket.send(frame(topicName, eventBody))
        }
      }
    }

    const attachSocket = (channel: ChannelState, ws: WebSocket) => {
      if (channel.socket !== undefined) closeChannelSocket(channel, "replaced by a new connection") // one socket per channel
      channel.socket = ws
      channel.lastUsed = ++state.useCounter
      channel.heartbeat = setInterval(() => {
        if (isOpen(ws)) ws.send(frame("channel.metadata", { message: "WebSocket Heartbeat" }))
      }, state.heartbeatIntervalMs)
      ws.on("message", (data, isBinary) => {
        if (isBinary) return
        try {
          const parsed = JSON.parse(String(data)) as { message?: unknown }
          if (parsed.message === "ping") ws.send(frame("channel.metadata", { message: "pong" }))
        } catch {
          // not JSON: the service ignores it
        }
      })
      ws.on("close", () => {
        if (channel.socket === ws) {
          clearInterval(channel.heartbeat)
          channel.heartbeat = undefined
          channel.socket = undefined
        }
      })
    }

    loopback.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const id = /^\/channels\/([^/?#]+)/.exec(req.url ?? "")?.[1]
      const channel = id === undefined ? undefined : liveChannel(id)
      if (channel === undefined) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => attachSocket(channel, ws))
    })

    // ---- routes ----

    const channelEntity = (channel: ChannelState) => ({
      id: channel.id,
      connectUri: `${loopback.url.replace(/^http/, "ws")}/channels/${channel.id}`,
      expires: new Date(channel.expiresAt).toISOString()
    })

    const createChannel = api((auth) =>
      Effect.sync(() => {
        sweepChannels()
        const own = [...channels.values()].filter((c) => c.clientId === auth.clientId)
        if (own.length >= MAX_CHANNELS_PER_CLIENT) {
          const lru = own.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a))
          closeChannelSocket(lru, "channel evicted")
          channels.delete(lru.id)
        }
        const channel: ChannelState = {
          id: `streaming-0-${randomUUID().replaceAll("-", "")}`,
          clientId: auth.clientId,
          token: auth.record,
          topics: [],
          rejected: new Map(),
          expiresAt: Date.now() + state.channelLifetimeMs,
          lastUsed: ++state.useCounter,
          socket: undefined,
          heartbeat: undefined
        }
        channels.set(channel.id, channel)
        return json(200, channelEntity(channel))
      })
    )

    const ownChannel = (clientId: string) =>
      Effect.flatMap(param("channelId"), (id) => {
        const channel = liveChannel(id, clientId)
        return channel === undefined ? fail(404, `channel ${id} not found`) : Effect.succeed(channel)
      })

    const headChannel = api((auth) => Effect.as(ownChannel(auth.clientId), HttpServerResponse.empty({ status: 200 })))

    /** Each topic with its state, as ChannelTopicEntityListing: a rejected one says why. */
    const topicList = (channel: ChannelState) =>
      json(200, {
        entities: [
          ...channel.topics.map((id) => ({ id, state: "Permitted" })),
          ...[...channel.rejected].map(([id, missingPermissions]) => ({
            id,
            state: "Rejected",
            rejectionReason: "MissingPermissions",
            missingPermissions
          }))
        ]
      })

    /** The permissions a topic needs and the client lacks (see `refuseTopics`); none when it is permitted. */
    const missingFor = (topic: string) => {
      for (const [suffix, missing] of state.refusedTopics) if (topic.endsWith(`.${suffix}`)) return missing
      return undefined
    }

    /**
     * POST adds, PUT replaces; at most 1,000 topics; (re-)subscribing extends the channel's life.
     * Each topic is checked against the client's permissions: a rejected one is listed as such and never notified.
     */
    const subscribe = (mode: "add" | "replace") =>
      api((auth) =>
        Effect.gen(function*() {
          const channel = yield* ownChannel(auth.clientId)
          const body = yield* apiBody(Subscriptions)
          const topics = [
            ...new Set([
              ...(mode === "add" ? [...channel.topics, ...channel.rejected.keys()] : []),
              ...body.map((t) => t.id)
            ])
          ]
          if (topics.length > MAX_TOPICS_PER_CHANNEL) {
            return yield* fail(
              400,
              `a channel may subscribe to at most ${MAX_TOPICS_PER_CHANNEL} topics (this would make ${topics.length})`
            )
          }
          channel.topics = topics.filter((topic) => missingFor(topic) === undefined)
          channel.rejected = new Map(
            topics.flatMap((topic) => {
              const missing = missingFor(topic)
              return missing === undefined ? [] : [[topic, missing] as const]
            })
          )
          channel.expiresAt = Date.now() + state.channelLifetimeMs
          channel.lastUsed = ++state.useCounter
          return topicList(channel)
        })
      )

    const listSubscriptions = api((auth) => Effect.map(ownChannel(auth.clientId), topicList))

    const deleteSubscriptions = api((auth) =>
      Effect.map(ownChannel(auth.clientId), (channel) => {
        channel.topics = []
        channel.rejected = new Map()
        channel.lastUsed = ++state.useCounter
        return HttpServerResponse.empty({ status: 204 })
      })
    )

    return {
      publishQueue: (c) => publish(`v2.routing.queues.${c.queueId}.conversations.messages`, conversationBody(c)),
      publishDetail: (c, event, at, body) =>
        publish(`v2.detail.events.conversation.${c.id}.${event}`, { eventTime: at.ms, conversationId: c.id, ...body }),
      dropSockets: Effect.sync(() => {
        for (const channel of channels.values()) channel.socket?.terminate()
      }),
      closeSockets: Effect.sync(() => {
        for (const channel of channels.values()) {
          if (isOpen(channel.socket)) {
            channel.socket.send(
              frame("v2.system.socket_closing", { message: "the socket is closing: reconnect within a minute" })
            )
            closeChannelSocket(channel, "socket closing")
          }
        }
      }),
      listChannels: () => {
        sweepChannels()
        return [...channels.values()].map((c) => ({
          channelId: c.id,
          clientId: c.clientId,
          connected: isOpen(c.socket),
          topics: [...c.topics],
          rejectedTopics: [...c.rejected.keys()]
        }))
      },
      router: HttpRouter.empty.pipe(
        HttpRouter.post("/api/v2/notifications/channels", createChannel),
        HttpRouter.head("/api/v2/notifications/channels/:channelId", headChannel),
        HttpRouter.get("/api/v2/notifications/channels/:channelId/subscriptions", listSubscriptions),
        HttpRouter.post("/api/v2/notifications/channels/:channelId/subscriptions", subscribe("add")),
        HttpRouter.put("/api/v2/notifications/channels/:channelId/subscriptions", subscribe("replace")),
        HttpRouter.del("/api/v2/notifications/channels/:channelId/subscriptions", deleteSubscriptions)
      )
    }
  })
