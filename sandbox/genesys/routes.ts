/**
 * Genesys Cloud's API routes: login, Open Messaging inbound (messages, typing, receipts), the
 * messaging conversation resource, the notifications service, queue availability and users;
 * each behind the API guard but login.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { json } from "../http/answers.js"
import { param, searchParams } from "../http/requests.js"
import { type ApiRoute, issueToken } from "./auth.js"
import type { Conversations } from "./conversations.js"
import type { Notifications } from "./notifications.js"
import { conversationAnswer, conversationBody, type GenesysState, integrationSender, now, textOf } from "./state.js"
import type { SimInboundMessage } from "./types.js"
import {
  apiBody,
  apiBodyAsSent,
  DeprecatedInboundMessage,
  DisconnectBody,
  fail,
  InboundEvent,
  InboundMessage,
  InboundReceipt,
  type ObservationPredicate,
  ObservationQuery
} from "./wire.js"

export const apiRoutes = (
  state: GenesysState,
  api: ApiRoute,
  notifications: Notifications,
  { disconnect, disconnectAll, openConversation, startConversation }: Conversations
) => {
  const { publishQueue } = notifications

  // ---- inbound Open Messaging ----

  const integrationFor = (id: string, field: string) =>
    state.integrations.has(id) ? Effect.succeed(id) : fail(404, `${field}: no Open Messaging integration ${id}`)

  const acceptMessage = (
    integrationId: string,
    { body, sent }: { body: InboundMessage; sent: unknown },
    route: SimInboundMessage["route"]
  ) =>
    Effect.gen(function*() {
      const c = openConversation(integrationId, body.channel.from.id) ?? (yield* startConversation(integrationId, body))
      const id = randomUUID()
      const received = now()
      c.inbound.push({
        id,
        ...(body.channel.messageId !== undefined ? { messageId: body.channel.messageId } : {}),
        from: body.channel.from,
        time: body.channel.time,
        ...textOf(body),
        content: body.content ?? [],
        ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
        route,
        sent
      })
      state.messages.set(id, {
        id,
        conversationId: c.id,
        direction: "inbound",
        timestamp: received.iso,
        ...textOf(body)
      })
      // conversationId is a prefetch flag: only given back when asked for
      const prefetch = (yield* searchParams).get("prefetchConversationId") === "true"
      return json(202, {
        id,
        channel: {
          id: integrationId,
          platform: "Open",
          type: "Private",
          ...(body.channel.messageId !== undefined ? { messageId: body.channel.messageId } : {}),
          to: { id: integrationId },
          from: body.channel.from,
          time: body.channel.time
        },
        type: "Text",
        ...textOf(body),
        // the SDK's OpenMessageContent requires contentType
        content: (body.content ?? []).map((c) => ({ contentType: "Attachment", ...c })),
        ...(prefetch ? { conversationId: c.id } : {})
      })
    })

  const inboundMessage = api(() =>
    Effect.gen(function*() {
      const integrationId = yield* integrationFor(yield* param("id"), "integrationId")
      return yield* acceptMessage(integrationId, yield* apiBodyAsSent(InboundMessage), "current")
    })
  )

  const deprecatedInboundMessage = api(() =>
    Effect.gen(function*() {
      const received = yield* apiBodyAsSent(DeprecatedInboundMessage)
      const integrationId = yield* integrationFor(received.body.channel.to.id, "channel.to.id")
      return yield* acceptMessage(integrationId, received, "deprecated")
    })
  )

  const inboundEvent = api(() =>
    Effect.gen(function*() {
      const integrationId = yield* integrationFor(yield* param("id"), "integrationId")
      const body = yield* apiBody(InboundEvent)
      // typing without an open conversation has nobody to reach: accepted and dropped
      const c = openConversation(integrationId, body.channel.from.id)
      if (c !== undefined) c.typingEvents += body.events.length
      return json(202, {
        id: randomUUID(),
        channel: {
          id: integrationId,
          platform: "Open",
          type: "Private",
          to: { id: integrationId },
          from: body.channel.from,
          time: body.channel.time
        },
        type: "Event",
        events: body.events
      })
    })
  )

  const inboundReceipt = api(() =>
    Effect.gen(function*() {
      const integrationId = yield* integrationFor(yield* param("id"), "integrationId")
      const body = yield* apiBody(InboundReceipt)
      const sent = state.messages.get(body.id)
      const c = sent?.direction === "outbound" ? state.conversations.get(sent.conversationId) : undefined
      if (c === undefined || c.integrationId !== integrationId) {
        return yield* fail(404, `id: no outbound message ${body.id}`)
      }
      c.receipts.push({
        id: body.id,
        status: body.status,
        ...(body.isFinalReceipt !== undefined ? { isFinalReceipt: body.isFinalReceipt } : {}),
        time: body.channel.time
      })
      // The SDK's OpenMessagingChannel requires `from`: the integration, which sent the message received.
      return json(202, {
        id: body.id,
        channel: {
          id: integrationId,
          platform: "Open",
          type: "Private",
          from: integrationSender(state, integrationId),
          ...body.channel
        },
        type: "Receipt",
        status: body.status,
        direction: "Outbound",
        ...(body.isFinalReceipt !== undefined ? { isFinalReceipt: body.isFinalReceipt } : {})
      })
    })
  )

  // ---- conversations ----

  const existingConversation = (id: string) =>
    Effect.suspend(() => {
      const c = state.conversations.get(id)
      return c === undefined ? fail(404, `conversation ${id} not found`) : Effect.succeed(c)
    })

  const messageDetails = api(() =>
    Effect.gen(function*() {
      const id = yield* param("id")
      const m = state.messages.get(id)
      if (m === undefined) return yield* fail(404, `message ${id} not found`)
      // The SDK's MessageData: `timestamp` and `status` required, the text in `normalizedMessage`.
      return json(200, {
        id: m.id,
        conversationId: m.conversationId,
        direction: m.direction,
        messengerType: "open",
        status: m.direction === "inbound" ? "received" : "sent",
        timestamp: m.timestamp,
        normalizedMessage: {
          id: m.id,
          type: "Text",
          ...textOf(m),
          direction: m.direction === "inbound" ? "Inbound" : "Outbound"
        },
        selfUri: `/api/v2/conversations/messages/${m.id}/details`
      })
    })
  )

  const getConversation = api(() =>
    Effect.map(Effect.flatMap(param("id"), existingConversation), (c) => json(200, conversationBody(c)))
  )

  const patchConversation = api(() =>
    Effect.gen(function*() {
      const c = yield* existingConversation(yield* param("id"))
      yield* apiBody(DisconnectBody)
      disconnectAll(c, "client", "peer") // our side (the customer) hangs up
      return json(200, conversationAnswer(c))
    })
  )

  const patchParticipant = api(() =>
    Effect.gen(function*() {
      const c = yield* existingConversation(yield* param("id"))
      const participantId = yield* param("participantId")
      const p = c.participants.find((x) => x.id === participantId)
      if (p === undefined) return yield* fail(404, `participant ${participantId} not found in conversation ${c.id}`)
      yield* apiBody(DisconnectBody)
      if (p.state !== "disconnected") {
        // the customer leaving ends the conversation for everybody
        if (p.purpose === "customer") disconnectAll(c, "client", "peer")
        else {
          disconnect(c, p, "client", now())
          publishQueue(c)
        }
      }
      return HttpServerResponse.empty({ status: 202 })
    })
  )

  // ---- availability, users ----

  const queueFor = (id: string) => {
    const queue = state.queues.find((q) => q.queueId === id)
    return queue === undefined ? fail(404, `queue ${id} not found`) : Effect.succeed(queue)
  }

  const estimatedWait = api(() =>
    Effect.map(
      Effect.flatMap(param("queueId"), queueFor),
      (queue) =>
        json(200, {
          results: [{
            formula: "BEST",
            ...(state.estimatedWaits.has(queue.queueId)
              ? { estimatedWaitTimeSeconds: state.estimatedWaits.get(queue.queueId) }
              : {})
          }]
        })
    )
  )

  /**
   * One group per queue named (and per media type, when the query names any), wherever the
   * predicates stand; the simulated agents take messages only, so other media count none.
   */
  const observations = api(() =>
    Effect.map(apiBody(ObservationQuery), ({ filter, metrics }) => {
      const predicates = [...(filter.predicates ?? []), ...(filter.clauses ?? []).flatMap((c) => c.predicates)]
      const valuesOf = (dimension: ObservationPredicate["dimension"]) => [
        ...new Set(predicates.filter((p) => p.dimension === dimension).map((p) => p.value))
      ]
      const mediaTypes = valuesOf("mediaType")
      const asked = metrics.includes("oOnQueueUsers")
      return json(200, {
        results: valuesOf("queueId").flatMap((queueId) => {
          const queue = state.queues.find((q) => q.queueId === queueId)
          const agents = queue === undefined ? 0 : (queue.agentsOnQueue ?? 1)
          return (mediaTypes.length > 0 ? mediaTypes : [undefined]).map((mediaType) => {
            const group = mediaType === undefined ? { queueId } : { queueId, mediaType }
            const count = mediaType === undefined || mediaType === "message" ? agents : 0
            // like the real service, a group with nothing to report has no data array
            return asked && count > 0
              ? { group, data: [{ metric: "oOnQueueUsers", qualifier: "IDLE", stats: { count } }] }
              : { group }
          })
        })
      })
    })
  )

  const getUser = api(() =>
    Effect.flatMap(param("userId"), (id) => {
      const name = state.users.get(id)
      // The SDK's User requires `version`.
      return name === undefined
        ? fail(404, `user ${id} not found`)
        : Effect.succeed(json(200, { id, name, state: "active", version: 1, selfUri: `/api/v2/users/${id}` }))
    })
  )

  return HttpRouter.concat(
    HttpRouter.empty.pipe(
      HttpRouter.post("/oauth/token", issueToken(state)),
      HttpRouter.post("/api/v2/conversations/messages/inbound/open", deprecatedInboundMessage),
      HttpRouter.post("/api/v2/conversations/messages/:id/inbound/open/message", inboundMessage),
      HttpRouter.post("/api/v2/conversations/messages/:id/inbound/open/event", inboundEvent),
      HttpRouter.post("/api/v2/conversations/messages/:id/inbound/open/receipt", inboundReceipt),
      HttpRouter.get("/api/v2/conversations/messages/:id/details", messageDetails),
      HttpRouter.get("/api/v2/conversations/messages/:id", getConversation),
      HttpRouter.patch("/api/v2/conversations/messages/:id", patchConversation),
      HttpRouter.patch("/api/v2/conversations/messages/:id/participants/:participantId", patchParticipant),
      HttpRouter.get("/api/v2/routing/queues/:queueId/mediatypes/message/estimatedwaittime", estimatedWait),
      HttpRouter.post("/api/v2/analytics/queues/observations/query", observations),
      HttpRouter.get("/api/v2/users/:userId", getUser)
    ),
    notifications.router
  )
}
