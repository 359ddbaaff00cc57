/** What the hbf-lcm simulator holds: the livechat requests, the user messages, the webhooks it sent. */
import { type FailureScript, makeFailureScript } from "../http/scripts.js"
import type { LcmReceivedMessage, LcmRequestRecord } from "./types.js"
import type { LcmAgent, LcmCreateRequest, LcmWebhookEvent } from "./wire.js"

export interface MutableRequest {
  platformSessionId: string
  body: LcmCreateRequest
  status: "open" | "ended"
  endedBy?: "user" | "agent" | "missed"
  agent?: LcmAgent
  createdAt: string
  createCalls: number
}

export interface MutableWebhook {
  eventId: string
  url: string
  event: LcmWebhookEvent
  raw: Uint8Array
  signature: string
  responses: Array<{ status: number; body: unknown }>
}

export interface LcmState {
  /** By platformSessionId. */
  readonly requests: Map<string, MutableRequest>
  /** By platformSessionId, in arrival order. */
  readonly messages: Map<string, Array<LcmReceivedMessage>>
  /** By event id. */
  readonly webhooks: Map<string, MutableWebhook>
  /** Scripted failures of the service routes. */
  readonly failures: FailureScript
}

export const makeState = (): LcmState => ({
  requests: new Map(),
  messages: new Map(),
  webhooks: new Map(),
  failures: makeFailureScript("hbf-lcm")
})

export const snapshot = (r: MutableRequest): LcmRequestRecord => ({
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
