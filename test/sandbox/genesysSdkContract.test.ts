/**
 * Contract tests: the Genesys simulator driven by Genesys' own client
 * (purecloud-platform-client-v2 262.0.0) for every call the gateway makes. Each answer is held
 * to the SDK model the client types it as, read from the SDK's index.d.ts (required fields
 * present, no field the model lacks, values of the declared kinds), and decoded with the
 * gateway's own schema; so a simulator that drifts from the vendor fails here. Then payload
 * examples, typed as the SDK's models, go through the gateway's webhook and notification
 * schemas to the events it would deliver.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import platformClient, { type Models } from "purecloud-platform-client-v2"
import WebSocket from "ws"
import { type GenesysSimOptions, makeGenesysSim } from "../../sandbox/genesys/index.js"
import {
  mapConversation,
  mapDetailEvent,
  mapOutboundWebhook,
  parseDetailTopic,
  topicsOf
} from "../../src/providers/genesys/mapper.js"
import {
  ChannelTopicListing,
  Conversation,
  DetailEvent,
  EstimatedWaitTime,
  GenesysUser,
  InboundAccepted,
  MessageDetails,
  NotificationChannel,
  NotificationFrame,
  OutboundWebhook,
  QueueObservations
} from "../../src/providers/genesys/schemas.js"
import { makeReceiver, waitFor } from "./httpHelpers.js"

// ---- the SDK's models, as its type declarations state them ----

const sdkTypes = readFileSync(
  join(dirname(createRequire(import.meta.url).resolve("purecloud-platform-client-v2/package.json")), "index.d.ts"),
  "utf8"
)

interface Field {
  readonly required: boolean
  readonly type: string
}

const modelFields = (model: string): ReadonlyMap<string, Field> => {
  const start = sdkTypes.indexOf(`\n\texport interface ${model} { `)
  if (start < 0) throw new Error(`the SDK has no model ${model}`)
  const fields = new Map<string, Field>()
  for (const line of sdkTypes.slice(start, sdkTypes.indexOf("\n\t}", start)).split("\n").slice(2)) {
    const declared = /^\t\t"([^"]+)"(\?)?: (.+);$/.exec(line)
    if (declared !== null) fields.set(declared[1]!, { required: declared[2] === undefined, type: declared[3]! })
  }
  return fields
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Where `value` departs from the SDK's `type` (string, number, boolean, object, Models.X, Array<T>, string maps). */
const departuresFrom = (type: string, value: unknown, path: string): ReadonlyArray<string> => {
  if (type === "string" || type === "number" || type === "boolean") {
    return typeof value === type ? [] : [`${path}: not a ${type}`]
  }
  if (type === "object") return isRecord(value) ? [] : [`${path}: not an object`]
  const array = /^Array<(.+)>$/.exec(type)
  if (array !== null) {
    return Array.isArray(value)
      ? value.flatMap((item, i) => departuresFrom(array[1]!, item, `${path}[${i}]`))
      : [`${path}: not an array`]
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type) ?? /^Record<string, (.+)>$/.exec(type)
  if (map !== null) {
    return isRecord(value)
      ? Object.entries(value).flatMap(([key, item]) => departuresFrom(map[1]!, item, `${path}.${key}`))
      : [`${path}: not a map`]
  }
  const model = /^Models\.(\w+)$/.exec(type)
  if (model !== null) return departuresFromModel(model[1]!, value, path)
  throw new Error(`${path}: the SDK type ${type} is not one this test reads`)
}

/** Where `value` departs from the SDK's model: a required field missing, a field the model lacks, a value of another kind. */
const departuresFromModel = (model: string, value: unknown, path: string = model): ReadonlyArray<string> => {
  if (!isRecord(value)) return [`${path}: not an object`]
  const fields = modelFields(model)
  return [
    ...[...fields].flatMap(([name, field]) =>
      field.required && value[name] === undefined ? [`${path}.${name}: required by ${model}, missing`] : []
    ),
    ...Object.entries(value).flatMap(([name, item]) => {
      const field = fields.get(name)
      return field === undefined
        ? [`${path}.${name}: not a field of ${model}`]
        : departuresFrom(field.type, item, `${path}.${name}`)
    })
  ]
}

/** The answer conforms to the SDK's model and the gateway's schema reads it. */
const conforms = <A, I>(model: string, answer: unknown, schema: Schema.Schema<A, I>): A => {
  expect(departuresFromModel(model, answer)).toEqual([])
  return Schema.decodeUnknownSync(schema)(answer)
}

describe("the SDK's models as this test reads them", () => {
  it("finds required fields, undeclared fields and wrong kinds, nested", () => {
    expect(departuresFromModel("OpenMessageNormalizedMessage", {
      channel: { to: { id: "x" }, from: { id: "y" }, time: 1 },
      extra: true
    })).toEqual([
      "OpenMessageNormalizedMessage.type: required by OpenMessageNormalizedMessage, missing",
      "OpenMessageNormalizedMessage.channel.from.idType: required by OpenMessagingFromRecipient, missing",
      "OpenMessageNormalizedMessage.channel.time: not a string",
      "OpenMessageNormalizedMessage.extra: not a field of OpenMessageNormalizedMessage"
    ])
    expect(departuresFromModel("QueueObservationQueryResponse", { results: [{ group: { queueId: 1 } }] })).toEqual([
      "QueueObservationQueryResponse.results[0].group.queueId: not a string"
    ])
  })
})

// ---- the simulator on a real port, the SDK pointed at it ----

const INTEGRATION_ID = "int-1"
const QUEUE_ID = "q-1"

const simOptions = (webhookUrl: string): GenesysSimOptions => ({
  clients: [{ clientId: "client-1", clientSecret: "secret-1" }],
  integrations: [{ integrationId: INTEGRATION_ID, webhookUrl, webhookSecret: "webhook-secret" }],
  queues: [{ queueId: QUEUE_ID, estimatedWaitSeconds: 42, agentsOnQueue: 3 }],
  users: [{ userId: "agent-never-joined", name: "Nikos" }],
  webhookRetryDelayMs: 50
})

/** The simulator and the SDK's client, logged in through the SDK's client credentials grant. */
const simWithSdk = Effect.gen(function*() {
  const receiver = yield* makeReceiver()
  const sim = yield* makeGenesysSim(simOptions(receiver.url))
  const client = platformClient.ApiClient.instance
  const { hostname, port } = new URL(sim.baseUrl)
  client.setGateway({ host: hostname, protocol: "http", port: Number(port) })
  const auth = yield* Effect.promise(() => client.loginClientCredentialsGrant("client-1", "secret-1"))
  return {
    sim,
    receiver,
    auth,
    conversations: new platformClient.ConversationsApi(),
    notifications: new platformClient.NotificationsApi(),
    analytics: new platformClient.AnalyticsApi(),
    routing: new platformClient.RoutingApi(),
    users: new platformClient.UsersApi()
  }
})

const sdk = <A>(call: () => Promise<A>) => Effect.promise(call)

/** Custom attributes as the gateway sends them: in `channel.metadata.customAttributes` and the message's `metadata`. */
const attributes = { queueId: QUEUE_ID, hbfSessionId: "session-1" }

const opening = (fromId: string): Models.OpenInboundNormalizedMessage => ({
  channel: {
    from: { id: fromId, idType: "Opaque", nickname: "Alice" },
    time: new Date().toISOString(),
    messageId: `${fromId}:request`,
    // not in the SDK's ConversationChannelMetadata, but where Architect reads them (docs/PROVIDERS.md#custom-attributes)
    metadata: { customAttributes: attributes } as Models.ConversationChannelMetadata
  },
  text: "Alice asked for an agent",
  metadata: attributes
})

/** A socket on the SDK-created channel: the frames as they come. */
const connect = (connectUri: string) =>
  Effect.acquireRelease(
    Effect.async<{ ws: WebSocket; frames: Array<string> }>((resume) => {
      const ws = new WebSocket(connectUri)
      const frames: Array<string> = []
      ws.on("message", (data) => frames.push(String(data)))
      ws.on("open", () => resume(Effect.succeed({ ws, frames })))
      ws.on("error", (e) => resume(Effect.die(e)))
    }),
    ({ ws }) => Effect.sync(() => ws.terminate())
  )

/** The SDK model of each detail topic the gateway follows. */
const detailModels: Record<string, string> = {
  "user.start": "UserStartDetailEventTopicUserStartEvent",
  "user.end": "UserEndDetailEventTopicUserEndEvent",
  "acw": "AcwDetailEventTopicAfterCallWorkEvent",
  "customer.end": "CustomerEndDetailEventTopicCustomerEndEvent"
}

describe("Genesys simulator driven by purecloud-platform-client-v2", () => {
  it.scopedLive("login, inbound message and typing, message details, conversation read and end", () =>
    Effect.gen(function*() {
      const { auth, conversations, sim } = yield* simWithSdk
      expect(auth.accessToken).toMatch(/^\w+$/)
      expect(auth.tokenExpiryTime).toBeGreaterThan(Date.now())

      const accepted = yield* sdk(() =>
        conversations.postConversationsMessageInboundOpenMessage(INTEGRATION_ID, opening("session-1"), {
          prefetchConversationId: true
        })
      )
      const { conversationId, id: messageId } = conforms("OpenMessageNormalizedMessage", accepted, InboundAccepted)
      expect(conversationId).toBe(sim.conversationOf("session-1")?.conversationId)
      expect(sim.conversationOf("session-1")!.participants[0]!.attributes).toEqual(attributes)

      const attachment = yield* sdk(() =>
        conversations.postConversationsMessageInboundOpenMessage(INTEGRATION_ID, {
          channel: { from: { id: "session-1", idType: "Opaque" }, time: new Date().toISOString(), messageId: "m-2" },
          content: [{
            attachment: {
              mediaType: "File",
              url: "https://files.example/bill.pdf",
              mime: "application/pdf",
              filename: "bill.pdf"
            }
          }]
        })
      )
      conforms("OpenMessageNormalizedMessage", attachment, InboundAccepted)

      const typing = yield* sdk(() =>
        conversations.postConversationsMessageInboundOpenEvent(INTEGRATION_ID, {
          channel: { from: { id: "session-1", idType: "Opaque" }, time: new Date().toISOString() },
          events: [{ eventType: "Typing", typing: { type: "On" } } as Models.OpenEvent]
        })
      )
      expect(departuresFromModel("OpenEventNormalizedMessage", typing)).toEqual([])
      expect(sim.conversationOf("session-1")!.typingEvents).toBe(1)

      const details = yield* sdk(() => conversations.getConversationsMessageDetails(messageId))
      expect(conforms("MessageData", details, MessageDetails)).toMatchObject({ id: messageId, conversationId })
      expect(details.normalizedMessage?.text).toBe("Alice asked for an agent")

      yield* sim.agentJoin(conversationId!, { userId: "agent-7", name: "Maria" })
      const read = yield* sdk(() => conversations.getConversationsMessage(conversationId!))
      const conversation = conforms("MessageConversation", read, Conversation)
      expect(mapConversation(conversation, Date.now()).map((e) => e.type)).toEqual(["agent.joined"])

      const ended = yield* sdk(() =>
        conversations.patchConversationsMessage(
          conversationId!,
          { state: "disconnected" } as unknown as Models.Conversation
        )
      )
      expect(departuresFromModel("Conversation", ended)).toEqual([])
      const after = yield* sdk(() => conversations.getConversationsMessage(conversationId!))
      expect(mapConversation(conforms("MessageConversation", after, Conversation), Date.now()).map((e) => e.type))
        .toEqual(["agent.joined", "agent.left", "session.ended"])
    }))

  it.scopedLive("notifications: channel, subscriptions (PUT, POST, a rejected topic) and the detail frames on its socket", () =>
    Effect.gen(function*() {
      const { conversations, notifications, sim } = yield* simWithSdk
      yield* sim.refuseTopics("acw")
      const accepted = yield* sdk(() =>
        conversations.postConversationsMessageInboundOpenMessage(INTEGRATION_ID, opening("session-2"), {
          prefetchConversationId: true
        })
      )
      const conversationId = accepted.conversationId!

      const channel = conforms(
        "Channel",
        yield* sdk(() => notifications.postNotificationsChannels()),
        NotificationChannel
      )
      const [start, end, acw, customerEnd] = topicsOf(conversationId)
      const replaced = yield* sdk(() =>
        notifications.putNotificationsChannelSubscriptions(channel.id, [{ id: start! }, { id: end! }])
      )
      expect(conforms("ChannelTopicEntityListing", replaced, ChannelTopicListing).entities.map((t) => t.state))
        .toEqual(["Permitted", "Permitted"])
      const added = yield* sdk(() =>
        notifications.postNotificationsChannelSubscriptions(channel.id, [{ id: acw! }, { id: customerEnd! }])
      )
      expect(conforms("ChannelTopicEntityListing", added, ChannelTopicListing).entities).toContainEqual({
        id: acw,
        state: "Rejected",
        rejectionReason: "MissingPermissions",
        missingPermissions: ["analytics:conversationDetail:view"]
      })

      const socket = yield* connect(channel.connectUri)
      yield* sim.agentJoin(conversationId, { userId: "agent-7", name: "Maria" })
      yield* sim.endConversation(conversationId)
      yield* waitFor("customer.end", () => socket.frames.some((f) => f.includes(".customer.end")))
      const events = socket.frames.flatMap((text) => {
        const frame = Schema.decodeUnknownSync(NotificationFrame)(text)
        const topic = parseDetailTopic(frame.topicName)
        if (topic === undefined) return []
        expect(departuresFromModel(detailModels[topic.kind]!, frame.eventBody)).toEqual([])
        return mapDetailEvent(topic.kind, Schema.decodeUnknownSync(DetailEvent)(frame.eventBody), "Maria")
      })
      expect(events.map((e) => [e.type, e.data])).toEqual([
        ["agent.joined", { agent: { id: "agent-7", name: "Maria" } }],
        ["agent.left", { agent: { id: "agent-7" } }],
        ["session.ended", { reason: "agent" }]
      ])
    }))

  it.scopedLive("availability: estimated wait and queue observations in the SDK's query forms; users who never joined", () =>
    Effect.gen(function*() {
      const { analytics, routing, users } = yield* simWithSdk
      const wait = yield* sdk(() => routing.getRoutingQueueMediatypeEstimatedwaittime(QUEUE_ID, "message"))
      expect(conforms("EstimatedWaitTimePredictions", wait, EstimatedWaitTime).results[0]?.estimatedWaitTimeSeconds)
        .toBe(42)

      const onQueue = (query: Models.QueueObservationQuery) =>
        Effect.map(
          sdk(() => analytics.postAnalyticsQueuesObservationsQuery(query)),
          (answer) =>
            conforms("QueueObservationQueryResponse", answer, QueueObservations).results
              .flatMap((r) => r.data)
              .reduce((sum, d) => sum + (d.stats?.count ?? 0), 0)
        )
      // the gateway's form
      expect(
        yield* onQueue({
          filter: {
            type: "or",
            predicates: [{ type: "dimension", dimension: "queueId", operator: "matches", value: QUEUE_ID }]
          },
          metrics: ["oOnQueueUsers"]
        })
      ).toBe(3)
      // clauses and a media type, as the SDK's QueueObservationQueryFilter allows
      expect(
        yield* onQueue({
          filter: {
            type: "and",
            clauses: [
              { type: "or", predicates: [{ dimension: "queueId", value: QUEUE_ID }] },
              { type: "or", predicates: [{ dimension: "mediaType", value: "message" }] }
            ]
          },
          metrics: ["oOnQueueUsers"]
        })
      ).toBe(3)

      const user = yield* sdk(() => users.getUser("agent-never-joined"))
      expect(conforms("User", user, GenesysUser)).toEqual({ id: "agent-never-joined", name: "Nikos" })
    }))

  it.scopedLive("the simulator's outbound webhooks are the SDK's ConversationNormalizedMessage and map to agent events", () =>
    Effect.gen(function*() {
      const { conversations, receiver, sim } = yield* simWithSdk
      const accepted = yield* sdk(() =>
        conversations.postConversationsMessageInboundOpenMessage(INTEGRATION_ID, opening("session-3"), {
          prefetchConversationId: true
        })
      )
      const conversationId = accepted.conversationId!
      yield* sim.agentJoin(conversationId)
      const said = yield* sim.agentSay(conversationId, {
        text: "Hi Alice",
        attachments: [{ url: "https://files.example/plan.png", mime: "image/png" }]
      })
      // the gateway sends no receipts (Open Messaging takes no Read: docs/PROVIDERS.md#inbound-user-to-agent), but
      // the simulator answers them as the SDK types them
      const receipt = yield* sdk(() =>
        conversations.postConversationsMessageInboundOpenReceipt(INTEGRATION_ID, {
          id: said.webhookId,
          channel: { to: { id: "session-3" }, time: new Date().toISOString() },
          status: "Delivered"
        })
      )
      expect(departuresFromModel("OpenReceiptNormalizedMessage", receipt)).toEqual([])
      // The SDK types `status` as any string; a Read receipt is refused all the same.
      const read = yield* Effect.flip(
        Effect.tryPromise(() =>
          conversations.postConversationsMessageInboundOpenReceipt(INTEGRATION_ID, {
            id: said.webhookId,
            channel: { to: { id: "session-3" }, time: new Date().toISOString() },
            status: "Read"
          })
        )
      )
      expect((read.error as { status?: number }).status).toBe(400)
      yield* sim.agentTyping(conversationId)
      const events = receiver.hits.flatMap((hit) => {
        const body: unknown = JSON.parse(hit.raw.toString("utf8"))
        expect(departuresFromModel("ConversationNormalizedMessage", body)).toEqual([])
        return mapOutboundWebhook(Schema.decodeUnknownSync(OutboundWebhook)(body), new Date().toISOString())
      })
      expect(events.map((e) => [e.type, e.data])).toEqual([
        [
          "agent.message",
          {
            text: "Hi Alice",
            attachments: [{ url: "https://files.example/plan.png", contentType: "image/png", name: "plan.png" }]
          }
        ],
        ["agent.typing", { typing: true }]
      ])
    }))
})

// ---- payload examples, typed as the SDK's models, through the gateway's schemas ----

/**
 * The outbound webhook as the Developer Center's "Outbound messages" page gives it
 * (docs/PROVIDERS.md#outbound-webhook-agent-to-us): the sender is the integration.
 */
const outboundChannel: Models.ConversationMessagingChannel = {
  id: INTEGRATION_ID,
  platform: "Open",
  type: "Private",
  to: { id: "session-9", idType: "Opaque" },
  from: { nickname: "Acme Open Messaging", id: INTEGRATION_ID, idType: "Opaque" },
  time: "2026-12-01T10:00:00.000Z",
  messageId: "m-9"
}

const examples: ReadonlyArray<[string, Models.ConversationNormalizedMessage, ReadonlyArray<unknown>]> = [
  [
    "text",
    {
      id: "w-1",
      channel: outboundChannel,
      type: "Text",
      text: "Hello from the agent",
      originatingEntity: "Human",
      direction: "Outbound"
    },
    [{ id: "genesys-livechat:webhook:w-1", type: "agent.message", data: { text: "Hello from the agent" } }]
  ],
  [
    "attachment",
    {
      id: "w-2",
      channel: outboundChannel,
      type: "Text",
      content: [{
        contentType: "Attachment",
        attachment: {
          id: "a-1",
          mediaType: "Image",
          url: "https://files.example/plan.png",
          mime: "image/png",
          filename: "plan.png",
          contentSizeBytes: 2048
        }
      }],
      direction: "Outbound"
    },
    [{
      type: "agent.message",
      data: {
        attachments: [{ url: "https://files.example/plan.png", contentType: "image/png", name: "plan.png", size: 2048 }]
      }
    }]
  ],
  [
    "typing event",
    {
      id: "w-3",
      channel: outboundChannel,
      type: "Event",
      events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }],
      direction: "Outbound"
    },
    [{ type: "agent.typing", data: { typing: true } }]
  ],
  [
    "receipt",
    {
      id: "w-4",
      channel: outboundChannel,
      type: "Receipt",
      status: "Delivered",
      isFinalReceipt: true,
      direction: "Outbound"
    },
    []
  ]
]

describe("SDK-typed payload examples through the gateway's Genesys schemas", () => {
  it.each(examples)("outbound webhook: %s", (_, example, expected) => {
    expect(departuresFromModel("ConversationNormalizedMessage", example)).toEqual([])
    const webhook = Schema.decodeUnknownSync(Schema.parseJson(OutboundWebhook))(JSON.stringify(example))
    const events = mapOutboundWebhook(webhook, "2026-12-01T10:00:05.000Z")
    expect(events).toHaveLength(expected.length)
    events.forEach((event, i) => {
      expect(event).toMatchObject({ occurredAt: outboundChannel.time, ...(expected[i] as object) })
    })
  })

  it("notification frames: a user.start, user.end (transfer) and customer.end detail event", () => {
    const conversationId = "c-1"
    const userStart: Models.UserStartDetailEventTopicUserStartEvent = {
      eventTime: 1_764_583_200_000,
      conversationId,
      participantId: "p-agent",
      mediaType: "MESSAGE",
      userId: "agent-7",
      queueId: QUEUE_ID
    }
    const userEnd: Models.UserEndDetailEventTopicUserEndEvent = {
      ...userStart,
      eventTime: 1_764_583_260_000,
      disconnectType: "TRANSFER"
    }
    const customerEnd: Models.CustomerEndDetailEventTopicCustomerEndEvent = {
      eventTime: 1_764_583_320_000,
      conversationId,
      participantId: "p-customer",
      disconnectType: "PEER",
      mediaType: "MESSAGE"
    }
    const frames = [["user.start", userStart], ["user.end", userEnd], ["customer.end", customerEnd]] as const
    const events = frames.flatMap(([kind, eventBody]) => {
      const frame = Schema.decodeUnknownSync(NotificationFrame)(
        JSON.stringify({
          topicName: `v2.detail.events.conversation.${conversationId}.${kind}`,
          version: "2",
          eventBody
        })
      )
      const topic = parseDetailTopic(frame.topicName)!
      return mapDetailEvent(topic.kind, Schema.decodeUnknownSync(DetailEvent)(frame.eventBody), "Maria")
    })
    expect(events.map((e) => [e.type, e.occurredAt, e.data])).toEqual([
      ["agent.joined", "2025-12-01T10:00:00.000Z", { agent: { id: "agent-7", name: "Maria" } }],
      ["agent.left", "2025-12-01T10:01:00.000Z", { agent: { id: "agent-7" } }],
      ["request.queued", "2025-12-01T10:01:00.000Z", { agent: { id: "agent-7" } }],
      ["session.ended", "2025-12-01T10:02:00.000Z", { reason: "agent" }]
    ])
  })

  it("conversation read: the SDK's MessageConversation with an agent who left with after-call work", () => {
    const read: Models.MessageConversation = {
      id: "c-2",
      participants: [
        {
          id: "p-customer",
          purpose: "customer",
          state: "connected",
          connectedTime: "2026-12-01T10:00:00.000Z",
          attributes
        },
        {
          id: "p-agent",
          purpose: "agent",
          state: "disconnected",
          disconnectType: "client",
          connectedTime: "2026-12-01T10:00:10.000Z",
          endTime: "2026-12-01T10:05:00.000Z",
          startAcwTime: "2026-12-01T10:05:00.000Z",
          user: { id: "agent-7" },
          name: "Maria"
        }
      ]
    }
    const conversation = Schema.decodeUnknownSync(Conversation)(read)
    expect(mapConversation(conversation, Date.parse("2026-12-01T10:06:00.000Z")).map((e) => [e.type, e.data]))
      .toEqual([
        ["agent.joined", { agent: { id: "agent-7", name: "Maria" } }],
        ["agent.left", { agent: { id: "agent-7" } }]
      ])
  })
})
