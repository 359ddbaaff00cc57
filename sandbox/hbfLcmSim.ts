/**
 * hbf-lcm simulator, the platform's own livechat (CONTRACTS.md section 5), with a
 * scriptable agent that posts signed webhooks to each request's `extras.callbackUrl`.
 *
 * Service routes (bearer token required):
 *   POST   /livechat-requests                                  204 (idempotent on platformSessionId)
 *   POST   /organizations/{organizationId}/livechat-messages   204; 404 unknown/ended request
 *   DELETE /livechat-requests/{platformSessionId}              204; 404 unknown
 * Sandbox routes (no auth, for curl):
 *   POST /sandbox/agent/{platformSessionId}/join|say|typing|end|transfer|missed
 *        bodies: join {fullName?, id?, image?}; say {text, attachments?}; typing {on?: boolean = true}
 *        -> 200 { eventId, status, body } (the gateway's answer to the webhook)
 *   POST /sandbox/events/{eventId}/resend                      same, byte-identical repost
 *   GET  /sandbox/requests                                     the requests
 *   GET  /sandbox/requests/{platformSessionId}/messages        the user messages of one request
 */
import { HttpRouter } from "@effect/platform"
import { Data, Effect, Schema } from "effect"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import {
  Attachment,
  decodeBody,
  decodeValue,
  handle,
  hmacHex,
  HttpUrl,
  IsoDateTime,
  json,
  type FailureScript,
  makeFailureScript,
  Metadata,
  noContent,
  NonEmptyString,
  param,
  parseJson,
  rawBody,
  reject,
  requireBearer,
  requireJsonContentType,
  serveRouter
} from "./simHttp.js"

// ---------------------------------------------------------------------------------------
// Wire shapes (CONTRACTS.md section 5)

export const LcmCreateRequest = Schema.Struct({
  type: Schema.Literal("external"),
  status: Schema.Literal("new"),
  requestedDate: IsoDateTime,
  platformSessionId: NonEmptyString,
  platformUserId: NonEmptyString,
  platformUserName: Schema.String,
  platformUserEmail: Schema.optional(Schema.String),
  platformUserPhone: Schema.optional(Schema.String),
  platformUserLanguage: Schema.optional(Schema.String),
  platformType: Schema.Literal("LIVECHAT"),
  platformOrigin: NonEmptyString,
  organizationId: NonEmptyString,
  tenantId: NonEmptyString,
  tenantName: Schema.String,
  tenantImageUrl: Schema.String,
  extras: Schema.Struct({
    callbackUrl: HttpUrl,
    transcript: Schema.optional(
      Schema.Array(Schema.Struct({ author: Schema.Literal("user", "bot", "agent"), text: Schema.String, at: Schema.String }))
    ),
    metadata: Schema.optional(Metadata)
  })
})
export type LcmCreateRequest = typeof LcmCreateRequest.Type

export const LcmUserMessage = Schema.Struct({
  platformSessionId: NonEmptyString,
  platformUserId: NonEmptyString,
  messageId: NonEmptyString,
  text: Schema.optional(Schema.String),
  attachments: Schema.optional(Schema.Array(Attachment)),
  sentDate: IsoDateTime
}).pipe(
  Schema.filter((m) =>
    (m.text !== undefined && m.text !== "") || (m.attachments !== undefined && m.attachments.length > 0)
      ? undefined
      : { path: ["text"], message: "text or attachments is required" }
  )
)
export type LcmUserMessage = typeof LcmUserMessage.Type

export interface LcmAgent {
  readonly id?: string
  readonly fullName?: string
  readonly image?: string
}

export interface LcmAttachment {
  readonly name: string
  readonly path: string
  readonly mimetype: string
}

export type LcmEventType =
  | "CONVERSATION_BEGIN"
  | "MESSAGE"
  | "CONVERSATION_TYPING"
  | "CONVERSATION_END"
  | "TRANSFER_REQUEST"
  | "REQUEST_MISSED"

/** The webhook body hbf-lcm posts to `extras.callbackUrl`. */
export interface LcmWebhookEvent {
  readonly id: string
  readonly type: LcmEventType
  readonly platformSessionId: string
  readonly platformUserId: string
  readonly occurredAt: string
  readonly agent?: LcmAgent
  readonly message?: { readonly text?: string; readonly attachments?: ReadonlyArray<LcmAttachment> }
  readonly typing?: boolean
}

// ---------------------------------------------------------------------------------------
// Simulator API

export interface LcmRequestRecord {
  readonly platformSessionId: string
  readonly tenantId: string
  readonly organizationId: string
  /** The decoded create body, as received (first create wins). */
  readonly body: LcmCreateRequest
  readonly status: "open" | "ended"
  /** Who ended it, once ended. */
  readonly endedBy?: "user" | "agent" | "missed"
  /** The agent who joined (cleared by a transfer). */
  readonly agent?: LcmAgent
  readonly createdAt: string
  /** How many creates arrived for this platformSessionId (repeats are idempotent). */
  readonly createCalls: number
}

export interface LcmReceivedMessage extends LcmUserMessage {
  readonly organizationId: string
}

/** What the gateway answered to one webhook. */
export interface AgentActionResult {
  readonly eventId: string
  readonly status: number
  readonly body: unknown
}

export interface LcmSentWebhook {
  readonly eventId: string
  readonly url: string
  readonly event: LcmWebhookEvent
  /** The exact bytes posted and the signature header sent with them. */
  readonly raw: Uint8Array
  readonly signature: string
  /** The gateway's answers, one per post (a resend adds one). */
  readonly responses: ReadonlyArray<{ readonly status: number; readonly body: unknown }>
}

/**
 * An agent action that could not be delivered: 404 unknown session/event, 409 no webhook
 * secret for the tenant, 502 the callback URL did not answer.
 */
export class LcmSimError extends Data.TaggedError("LcmSimError")<{ readonly status: number; readonly message: string }> {}

export interface HbfLcmSimOptions {
  readonly token: string
  /** The tenant's `helvia.webhookSecret`; `undefined` = hbf-lcm does not know the tenant (create -> 404). */
  readonly webhookSecretFor: (tenantId: string) => string | undefined
}

export interface HbfLcmSim {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string
  readonly requests: () => ReadonlyArray<LcmRequestRecord>
  readonly request: (platformSessionId: string) => LcmRequestRecord | undefined
  /** User messages received for a request, in arrival order (retries included, not de-duplicated). */
  readonly messages: (platformSessionId: string) => ReadonlyArray<LcmReceivedMessage>
  /** Every webhook posted, in order. */
  readonly webhooks: () => ReadonlyArray<LcmSentWebhook>
  /** The next `n` service requests (not sandbox routes) answer `status` (and `Retry-After` when given). */
  readonly failNext: FailureScript["failNext"]
  /** CONVERSATION_BEGIN; default agent `{ id: "lcm-agent-1", fullName: "Sandbox Agent" }`. */
  readonly join: (platformSessionId: string, agent?: LcmAgent) => Effect.Effect<AgentActionResult, LcmSimError>
  /** MESSAGE from the current agent. */
  readonly say: (
    platformSessionId: string,
    text: string,
    attachments?: ReadonlyArray<LcmAttachment>
  ) => Effect.Effect<AgentActionResult, LcmSimError>
  /** CONVERSATION_TYPING with `typing: on`. */
  readonly typing: (platformSessionId: string, on: boolean) => Effect.Effect<AgentActionResult, LcmSimError>
  /** CONVERSATION_END; the request is ended. */
  readonly end: (platformSessionId: string) => Effect.Effect<AgentActionResult, LcmSimError>
  /** TRANSFER_REQUEST; the agent leaves, the request stays open (back in the queue). */
  readonly transfer: (platformSessionId: string) => Effect.Effect<AgentActionResult, LcmSimError>
  /** REQUEST_MISSED; the request is ended. */
  readonly missed: (platformSessionId: string) => Effect.Effect<AgentActionResult, LcmSimError>
  /** Posts a previously sent event again, byte-identical, same signature header. */
  readonly resend: (eventId: string) => Effect.Effect<AgentActionResult, LcmSimError>
}

const defaultAgent: LcmAgent = { id: "lcm-agent-1", fullName: "Sandbox Agent" }

const JoinBody = Schema.Struct({
  id: Schema.optional(Schema.String),
  fullName: Schema.optional(Schema.String),
  image: Schema.optional(Schema.String)
})
const SayBody = Schema.Struct({
  text: Schema.String,
  attachments: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, path: Schema.String, mimetype: Schema.String })))
})
const TypingBody = Schema.Struct({ on: Schema.optionalWith(Schema.Boolean, { default: () => true }) })

interface MutableRequest {
  platformSessionId: string
  body: LcmCreateRequest
  status: "open" | "ended"
  endedBy?: "user" | "agent" | "missed"
  agent?: LcmAgent
  createdAt: string
  createCalls: number
}

interface MutableWebhook {
  eventId: string
  url: string
  event: LcmWebhookEvent
  raw: Uint8Array
  signature: string
  responses: Array<{ status: number; body: unknown }>
}

const snapshot = (r: MutableRequest): LcmRequestRecord => ({
  platformSessionId: r.platformSessionId,
  tenantId: r.body.tenantId,
  organizationId: r.body.organizationId,
  body: r.body,
  status: r.status,
  ...(r.endedBy !== undefined ? { endedBy: r.endedBy } : {}),
  ...(r.agent !== undefined ? { agent: r.agent } : {}),
  createdAt: r.createdAt,
  createCalls: r.createCalls
})

/** POSTs the exact bytes; answers the status and the (JSON-decoded when possible) body. */
const postWebhook = (url: string, raw: Uint8Array, signature: string) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-helvia-signature": signature, "user-agent": "hbf-lcm-sim" },
        body: raw,
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)])
      })
      const text = await response.text()
      let body: unknown = text === "" ? null : text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body }
    },
    catch: (cause) =>
      new LcmSimError({
        status: 502,
        message: `hbf-lcm simulator: could not deliver the webhook to ${url}: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })

export const makeHbfLcmSim = (options: HbfLcmSimOptions): Effect.Effect<HbfLcmSim, never, Scope.Scope> =>
  Effect.gen(function* () {
    const requests = new Map<string, MutableRequest>()
    const messages = new Map<string, Array<LcmReceivedMessage>>()
    const webhooks = new Map<string, MutableWebhook>()
    const failures = makeFailureScript("hbf-lcm")

    const deliver = (hook: MutableWebhook) =>
      postWebhook(hook.url, hook.raw, hook.signature).pipe(
        Effect.tap((response) =>
          Effect.zipRight(
            Effect.sync(() => hook.responses.push(response)),
            Effect.log(`hbf-lcm agent -> ${hook.event.type} ${hook.event.platformSessionId} (${hook.eventId}): gateway answered ${response.status}`)
          )
        ),
        Effect.map((response): AgentActionResult => ({ eventId: hook.eventId, ...response }))
      )

    /** Builds, signs, records and posts one agent event. */
    const act = (
      platformSessionId: string,
      type: LcmEventType,
      build: (request: MutableRequest) => Pick<LcmWebhookEvent, "agent" | "message" | "typing">,
      after?: (request: MutableRequest) => void
    ): Effect.Effect<AgentActionResult, LcmSimError> =>
      Effect.suspend(() => {
        const request = requests.get(platformSessionId)
        if (request === undefined)
          return Effect.fail(new LcmSimError({ status: 404, message: `hbf-lcm simulator: no livechat request ${platformSessionId}` }))
        const secret = options.webhookSecretFor(request.body.tenantId)
        if (secret === undefined)
          return Effect.fail(
            new LcmSimError({ status: 409, message: `hbf-lcm simulator: no webhook secret for tenant ${request.body.tenantId}` })
          )
        const eventId = `lcm-evt-${randomUUID()}`
        const extra = build(request)
        const event: LcmWebhookEvent = {
          id: eventId,
          type,
          platformSessionId,
          platformUserId: request.body.platformUserId,
          occurredAt: new Date().toISOString(),
          ...(extra.agent !== undefined ? { agent: extra.agent } : {}),
          ...(extra.message !== undefined ? { message: extra.message } : {}),
          ...(extra.typing !== undefined ? { typing: extra.typing } : {})
        }
        const raw = new Uint8Array(Buffer.from(JSON.stringify(event), "utf8"))
        const hook: MutableWebhook = {
          eventId,
          url: request.body.extras.callbackUrl,
          event,
          raw,
          signature: `sha256=${hmacHex(secret, raw)}`,
          responses: []
        }
        webhooks.set(eventId, hook)
        after?.(request)
        return deliver(hook)
      })

    const agentOf = (request: MutableRequest) => (request.agent !== undefined ? { agent: request.agent } : {})

    const join = (platformSessionId: string, agent?: LcmAgent) =>
      act(
        platformSessionId,
        "CONVERSATION_BEGIN",
        () => ({ agent: agent ?? defaultAgent }),
        (request) => {
          request.agent = agent ?? defaultAgent
        }
      )
    const say = (platformSessionId: string, text: string, attachments?: ReadonlyArray<LcmAttachment>) =>
      act(platformSessionId, "MESSAGE", (request) => ({
        ...agentOf(request),
        message: { text, ...(attachments !== undefined ? { attachments } : {}) }
      }))
    const typing = (platformSessionId: string, on: boolean) =>
      act(platformSessionId, "CONVERSATION_TYPING", (request) => ({ ...agentOf(request), typing: on }))
    const end = (platformSessionId: string) =>
      act(platformSessionId, "CONVERSATION_END", agentOf, (request) => {
        request.status = "ended"
        request.endedBy = "agent"
      })
    const transfer = (platformSessionId: string) =>
      act(platformSessionId, "TRANSFER_REQUEST", agentOf, (request) => {
        delete request.agent
      })
    const missed = (platformSessionId: string) =>
      act(
        platformSessionId,
        "REQUEST_MISSED",
        () => ({}),
        (request) => {
          request.status = "ended"
          request.endedBy = "missed"
        }
      )
    const resend = (eventId: string) =>
      Effect.suspend(() => {
        const hook = webhooks.get(eventId)
        return hook === undefined
          ? Effect.fail(new LcmSimError({ status: 404, message: `hbf-lcm simulator: no webhook ${eventId} was sent` }))
          : deliver(hook)
      })

    // ----- service routes

    const createRequest = handle(
      Effect.gen(function* () {
        yield* failures.take()
        yield* requireBearer(options.token)
        yield* requireJsonContentType
        const body = yield* decodeBody(LcmCreateRequest, yield* rawBody)
        if (options.webhookSecretFor(body.tenantId) === undefined)
          return yield* reject(404, "NotFound", `hbf-lcm has no livechat configured for tenant ${body.tenantId}`)
        const existing = requests.get(body.platformSessionId)
        if (existing !== undefined) {
          existing.createCalls += 1
          return noContent
        }
        requests.set(body.platformSessionId, {
          platformSessionId: body.platformSessionId,
          body,
          status: "open",
          createdAt: new Date().toISOString(),
          createCalls: 1
        })
        yield* Effect.log(
          `hbf-lcm <- livechat request ${body.platformSessionId} (tenant ${body.tenantId}, user ${body.platformUserId}); ` +
            `drive the agent with POST /sandbox/agent/${body.platformSessionId}/join|say|typing|end|transfer|missed`
        )
        return noContent
      })
    )

    const postMessage = handle(
      Effect.gen(function* () {
        yield* failures.take()
        yield* requireBearer(options.token)
        const organizationId = yield* param("organizationId")
        yield* requireJsonContentType
        const body = yield* decodeBody(LcmUserMessage, yield* rawBody)
        const request = requests.get(body.platformSessionId)
        if (request === undefined || request.body.organizationId !== organizationId)
          return yield* reject(404, "NotFound", `no livechat request ${body.platformSessionId} in organization ${organizationId}`)
        if (request.status === "ended")
          return yield* reject(404, "NotFound", `livechat request ${body.platformSessionId} has ended`)
        if (request.body.platformUserId !== body.platformUserId)
          return yield* reject(400, "BadRequest", `platformUserId: does not match the request's user`, {
            fields: [{ path: "platformUserId", message: "does not match the request's user" }]
          })
        const list = messages.get(body.platformSessionId) ?? []
        list.push({ organizationId, ...body })
        messages.set(body.platformSessionId, list)
        yield* Effect.log(`hbf-lcm <- user message ${body.messageId} on ${body.platformSessionId}: ${body.text ?? "(attachments)"}`)
        return noContent
      })
    )

    const deleteRequest = handle(
      Effect.gen(function* () {
        yield* failures.take()
        yield* requireBearer(options.token)
        const id = yield* param("platformSessionId")
        const request = requests.get(id)
        if (request === undefined) return yield* reject(404, "NotFound", `no livechat request ${id}`)
        if (request.status === "open") {
          request.status = "ended"
          request.endedBy = "user"
        }
        return noContent // ending an ended request again is a no-op
      })
    )

    // ----- sandbox routes (no auth)

    const answer = (effect: Effect.Effect<AgentActionResult, LcmSimError>) =>
      Effect.match(effect, {
        onSuccess: (result) => json(200, result),
        onFailure: (e) => json(e.status, { error: "AgentActionFailed", message: e.message })
      })

    const agentAction = handle(
      Effect.gen(function* () {
        const id = yield* param("platformSessionId")
        const action = yield* param("action")
        const raw = yield* rawBody
        const value = yield* parseJson(raw, {}) // curl -d sends form content-type: read JSON regardless
        switch (action) {
          case "join": {
            const body = yield* decodeValue(JoinBody, value)
            const agent: LcmAgent = {
              id: body.id ?? defaultAgent.id!,
              fullName: body.fullName ?? defaultAgent.fullName!,
              ...(body.image !== undefined ? { image: body.image } : {})
            }
            return yield* answer(join(id, agent))
          }
          case "say": {
            const body = yield* decodeValue(SayBody, value)
            return yield* answer(say(id, body.text, body.attachments))
          }
          case "typing":
            return yield* answer(typing(id, (yield* decodeValue(TypingBody, value)).on))
          case "end":
            return yield* answer(end(id))
          case "transfer":
            return yield* answer(transfer(id))
          case "missed":
            return yield* answer(missed(id))
          default:
            return yield* reject(404, "NotFound", `unknown agent action ${action} (join|say|typing|end|transfer|missed)`)
        }
      })
    )

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/livechat-requests", createRequest),
      HttpRouter.post("/organizations/:organizationId/livechat-messages", postMessage),
      HttpRouter.del("/livechat-requests/:platformSessionId", deleteRequest),
      HttpRouter.post("/sandbox/agent/:platformSessionId/:action", agentAction),
      HttpRouter.post(
        "/sandbox/events/:eventId/resend",
        handle(Effect.flatMap(param("eventId"), (id) => answer(resend(id))))
      ),
      HttpRouter.get("/sandbox/requests", Effect.sync(() => json(200, [...requests.values()].map(snapshot)))),
      HttpRouter.get(
        "/sandbox/requests/:platformSessionId/messages",
        handle(Effect.map(param("platformSessionId"), (id) => json(200, messages.get(id) ?? [])))
      )
    )

    const baseUrl = yield* serveRouter(router)
    return {
      baseUrl,
      requests: () => [...requests.values()].map(snapshot),
      request: (id) => {
        const request = requests.get(id)
        return request === undefined ? undefined : snapshot(request)
      },
      messages: (id) => [...(messages.get(id) ?? [])],
      webhooks: () => [...webhooks.values()].map((hook) => ({ ...hook, responses: [...hook.responses] })),
      failNext: failures.failNext,
      join,
      say,
      typing,
      end,
      transfer,
      missed,
      resend
    }
  })
