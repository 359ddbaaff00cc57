/** The hbf-lcm simulator's options and its scripting interface. */
import { Data, type Effect } from "effect"
import type { FailureScript } from "../http/scripts.js"
import type { UnreachableControls } from "../http/unreachable.js"
import type { LcmAgent, LcmAttachment, LcmCreateRequest, LcmUserMessage, LcmWebhookEvent } from "./wire.js"

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
export class LcmSimError
  extends Data.TaggedError("LcmSimError")<{ readonly status: number; readonly message: string }>
{}

export interface HbfLcmSimOptions {
  readonly token: string
  /** The tenant's `helvia.webhookSecret`; `undefined` = hbf-lcm does not know the tenant (create -> 404). */
  readonly webhookSecretFor: (tenantId: string) => string | undefined
}

export interface HbfLcmSim extends UnreachableControls {
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
