/**
 * A Genesys notifications channel against a Genesys of the test's own, over real HTTP and a
 * real WebSocket: the channel's client is the gateway's (GenesysApiLive), the socket's frames
 * are whatever the test sends. A frame over the size limit closes the socket and the channel
 * reconnects; a flood of frames meeting a slow consumer is held back by TCP, not queued
 * without bound, and every one of them is still handled, in order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type WebSocket from "ws"
import { WebSocketServer } from "ws"
import { demoGenesys } from "../../sandbox/demoTenants.js"
import { makeSandbox } from "../../sandbox/environment.js"
import type { ProviderEvent } from "../../src/domain/model.js"
import type { GenesysConfig } from "../../src/domain/tenant.js"
import { OutboundHttpLive } from "../../src/infra/outbound.js"
import { makeProviderEgressGuard } from "../../src/infra/ProviderEgressGuardLive.js"
import { credentialsOf, GenesysApi, GenesysApiLive } from "../../src/providers/genesys/client.js"
import { notificationTimings } from "../../src/providers/genesys/notificationProtocol.js"
import { startChannel } from "../../src/providers/genesys/notificationSocket.js"
import { ProviderCallHealthLive } from "../../src/providers/providerCallHealth.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { ProviderEgressGuard } from "../../src/services/ProviderEgressGuard.js"
import { eventually } from "../eventually.js"

const MiB = 1024 * 1024
const conversationId = "conv-1"
const egress = makeProviderEgressGuard({ allowInsecure: true, allowPrivate: true, hosts: [] })

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))

/**
 * Genesys as far as a notifications channel sees it: a token, channels whose connectUri is
 * this server's socket, subscriptions, a conversation with nobody in it yet, and agents'
 * names. Keeps every socket that connected, newest last, and how each was closed.
 */
const fakeGenesys = Effect.gen(function*() {
  const sockets: Array<{ readonly ws: WebSocket; closeCode?: number }> = []
  let channels = 0
  const wss = new WebSocketServer({ noServer: true })
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? ""
    if (path === "/oauth/token") {
      return json(res, 200, { access_token: "token", token_type: "bearer", expires_in: 86_400 })
    }
    if (path === "/api/v2/notifications/channels") {
      channels++
      return json(res, 200, {
        id: `channel-${channels}`,
        connectUri: `${url.replace("http", "ws")}/channels/channel-${channels}`
      })
    }
    if (path.endsWith("/subscriptions")) return json(res, 200, { entities: [] })
    if (path === `/api/v2/conversations/messages/${conversationId}`) {
      return json(res, 200, { id: conversationId, participants: [] })
    }
    if (path.startsWith("/api/v2/users/")) return json(res, 200, { id: path.split("/").at(-1), name: "Maria" })
    json(res, 404, { code: "not.found" })
  })
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      const entry: { readonly ws: WebSocket; closeCode?: number } = { ws }
      ws.on("close", (code) => (entry.closeCode = code))
      sockets.push(entry)
    }))
  const url = yield* Effect.acquireRelease(
    Effect.async<string>((resume) =>
      void server.listen(
        0,
        "127.0.0.1",
        () => resume(Effect.succeed(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
      )
    ),
    () =>
      Effect.sync(() => {
        for (const ws of wss.clients) ws.terminate()
        server.closeAllConnections()
        server.close()
      })
  )
  return { url, sockets, channels: () => channels }
})

/** A user.start notification of the followed conversation, for agent leg `leg`, padded with `padding` characters the gateway ignores. */
const agentJoined = (leg: number, padding = 0) =>
  JSON.stringify({
    topicName: `v2.detail.events.conversation.${conversationId}.user.start`,
    eventBody: {
      eventTime: 1_700_000_000_000 + leg,
      conversationId,
      participantId: `leg-${leg}`,
      userId: "agent-1",
      padding: "x".repeat(padding)
    }
  })

/** Starts a channel following the conversation, against `genesys`; every batch of events ingested goes through `ingest`. */
const follow = (genesysUrl: string, ingest: (events: ReadonlyArray<ProviderEvent>) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const sandbox = yield* makeSandbox()
    const layer = GenesysApiLive.pipe(
      Layer.provide(Layer.merge(OutboundHttpLive, ProviderCallHealthLive)),
      Layer.provideMerge(Layer.succeed(ProviderEgressGuard, egress)),
      Layer.provideMerge(Layer.succeed(AppConfig, sandbox.config))
    )
    const api = Context.get(yield* Layer.build(layer), GenesysApi)
    const config = {
      ...demoGenesys,
      clientSecret: Redacted.make(demoGenesys.clientSecret),
      webhookSecret: Redacted.make(demoGenesys.webhookSecret),
      apiBaseUrl: genesysUrl,
      loginBaseUrl: genesysUrl
    } as GenesysConfig
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const channel = yield* startChannel(credentialsOf("t1", config), {
      api,
      egress,
      ingest: (_tenant, _conversation, events) => ingest(events),
      maxFrameBytes: sandbox.config.upstream.maxBodyBytes
    }, scope)
    yield* Effect.addFinalizer(() => channel.stop)
    yield* channel.follow(conversationId)
  })

/** The agent legs whose joins were ingested, in order. */
const legsOf = (ingested: ReadonlyArray<ProviderEvent>) =>
  ingested.map((e) => Number(e.id.split(":").at(-2)?.replace("leg-", "")))

describe("Genesys notifications socket", () => {
  it.live("a frame over 1 MiB closes the socket (1009, message too big); the channel reconnects and handles the frames after it", () =>
    Effect.gen(function*() {
      const genesys = yield* fakeGenesys
      const ingested: Array<ProviderEvent> = []
      yield* follow(genesys.url, (events) =>
        Effect.sync(() => {
          for (const event of events) ingested.push(event)
        }))
      yield* eventually("the socket connected", Effect.sync(() => genesys.sockets.length), (n) => n === 1)
      const first = genesys.sockets[0]!
      first.ws.send(agentJoined(1))
      first.ws.send(agentJoined(2, 2 * MiB))
      yield* eventually("the socket closed as too big", Effect.sync(() => first.closeCode), (code) => code === 1009)
      yield* eventually("a new channel and socket", Effect.sync(() => genesys.sockets.length), (n) => n === 2)
      expect(genesys.channels()).toBe(2)
      genesys.sockets[1]!.ws.send(agentJoined(3))
      yield* eventually(
        "the frame after the reconnect handled",
        Effect.sync(() => legsOf(ingested)),
        (legs) => legs.includes(3)
      )
      expect(legsOf(ingested)).toEqual([1, 3])
    }).pipe(Effect.scoped))

  it.live(
    "a flood of frames for a consumer that is stuck: the socket stops reading (the sender is held back), then every frame is handled, in order",
    () =>
      Effect.gen(function*() {
        const genesys = yield* fakeGenesys
        const ingested: Array<ProviderEvent> = []
        const stuck = yield* Deferred.make<void>()
        let calls = 0
        yield* follow(genesys.url, (events) =>
          Effect.suspend(() => (calls++ === 0 ? Deferred.await(stuck) : Effect.void)).pipe(
            Effect.zipRight(Effect.sync(() => {
              for (const event of events) {
                ingested.push(event)
              }
            }))
          ))
        yield* eventually(
          "the socket connected",
          Effect.sync(() =>
            genesys.sockets.length
          ),
          (n) => n === 1
        )
        const ws = genesys.sockets[0]!.ws
        // 40 MiB in 10,000 frames of 4 KiB: far more than the inbox's 4 MiB and the kernel's socket buffers.
        const frames = 10_000
        for (let leg = 1; leg <= frames; leg++) ws.send(agentJoined(leg, 4096))
        const sent = frames * agentJoined(1, 4096).length
        // The first frame's ingest is stuck: the gateway read up to its inbox's bound and stopped, so most of the flood waits at the sender.
        yield* Effect.sleep("1 second")
        const held = ws.bufferedAmount
        expect(held).toBeGreaterThan(sent - notificationTimings.inboxBytes - 16 * MiB)
        yield* Effect.sleep("500 millis")
        expect(ws.bufferedAmount).toBe(held)
        expect(ingested).toEqual([])

        yield* Deferred.succeed(stuck, undefined)
        yield* eventually(
          "every frame handled",
          Effect.sync(() => ingested.length),
          (n) => n === frames,
          Duration.seconds(30)
        )
        expect(legsOf(ingested)).toEqual(Array.from({ length: frames }, (_, i) => i + 1))
        expect(ws.bufferedAmount).toBe(0)
        expect(genesys.sockets).toHaveLength(1)
      }).pipe(Effect.scoped),
    60_000
  )
})
