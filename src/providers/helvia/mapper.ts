/** hbf-lcm events -> normalized events. Ids derive from hbf-lcm's event id, so redeliveries de-duplicate. */
import type { Agent, ProviderEvent } from "../../domain/model.js"
import type { HelviaWebhook } from "./webhook.js"

const agentOf = (agent: HelviaWebhook["agent"]): Agent | undefined =>
  agent === undefined
    ? undefined
    : {
      ...(agent.id !== undefined ? { id: agent.id } : {}),
      ...(agent.fullName !== undefined ? { name: agent.fullName } : {}),
      ...(agent.image !== undefined ? { avatarUrl: agent.image } : {})
    }

export const mapHelviaEvent = (webhook: HelviaWebhook): ReadonlyArray<ProviderEvent> => {
  const id = `helvia-livechat:${webhook.id}`
  const occurredAt = webhook.occurredAt
  const agent = agentOf(webhook.agent)
  const withAgent = agent !== undefined ? { agent } : {}
  switch (webhook.type) {
    case "CONVERSATION_BEGIN":
      return [{ id, occurredAt, type: "agent.joined", data: { agent: agent ?? {} } }]
    case "MESSAGE": {
      const attachments = webhook.message?.attachments?.map((a) => ({
        url: a.path,
        contentType: a.mimetype,
        name: a.name
      }))
      const text = webhook.message?.text
      return [
        {
          id,
          occurredAt,
          type: "agent.message",
          data: {
            ...(text !== undefined ? { text } : {}),
            ...(attachments !== undefined ? { attachments } : {}),
            ...withAgent
          }
        }
      ]
    }
    case "CONVERSATION_TYPING":
      return [{ id, occurredAt, type: "agent.typing", data: { typing: webhook.typing ?? true, ...withAgent } }]
    case "CONVERSATION_END":
      return [{ id, occurredAt, type: "session.ended", data: { reason: "agent" } }]
    case "TRANSFER_REQUEST":
      // The agent hands the chat back to the queue: it leaves, and the request waits again.
      return [
        { id: `${id}:left`, occurredAt, type: "agent.left", data: withAgent },
        { id: `${id}:queued`, occurredAt, type: "request.queued", data: withAgent }
      ]
    case "REQUEST_MISSED":
      return [{
        id,
        occurredAt,
        type: "request.failed",
        data: { reason: "missed", message: "no agent took the request" }
      }]
  }
}
