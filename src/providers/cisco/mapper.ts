/**
 * CCP chat events -> normalized events (docs/PROVIDERS.md#cisco-ccp-chat). Ids derive from the
 * chat id and CCP's event id, so a poll that re-reads events (after a restart or a failover,
 * from the last stored cursor) yields the same ids, dropped as seen.
 */
import type { ProviderEvent } from "../../domain/model.js"
import { type CcpEvent, decodeFormBody } from "./xml.js"

const eventId = (chatId: string, ...parts: ReadonlyArray<string | number>) =>
  `cisco-livechat:${chatId}:${parts.join(":")}`

/** The chat's end, one id however it was learnt (the agent leaving, a status). */
export const ended = (chatId: string, occurredAt: string, reason: "agent" | "provider"): ProviderEvent => ({
  id: eventId(chatId, "ended"),
  occurredAt,
  type: "session.ended",
  data: { reason }
})

/**
 * One poll's events -> normalized events. `customer` is the author name the chat was
 * created with: presence and typing from it are the customer's own (echoes of ours).
 * CCP gives no event times, so `now` (the poll's time) stands in.
 */
export const mapCcpEvents = (
  chatId: string,
  customer: string,
  events: ReadonlyArray<CcpEvent>,
  now: string
): ReadonlyArray<ProviderEvent> =>
  events.flatMap((event): ReadonlyArray<ProviderEvent> => {
    const id = eventId(chatId, event.id)
    switch (event._tag) {
      case "MessageEvent":
        if (event.from === customer) return []
        return [{
          id,
          occurredAt: now,
          type: "agent.message",
          data: { text: decodeFormBody(event.body), agent: { name: event.from } }
        }]
      case "PresenceEvent":
        if (event.from === customer) return []
        if (event.status === "joined") {
          return [{ id, occurredAt: now, type: "agent.joined", data: { agent: { name: event.from } } }]
        }
        // In practice the agent leaving is what ends a CCP chat (Cisco's own clients treat it so).
        if (event.status === "left") {
          return [
            { id, occurredAt: now, type: "agent.left", data: { agent: { name: event.from } } },
            ended(chatId, now, "agent")
          ]
        }
        return []
      case "TypingEvent":
        if (event.from === customer) {
          return []
        }
        return [{
          id,
          occurredAt: now,
          type: "agent.typing",
          data: { typing: event.status === "composing", agent: { name: event.from } }
        }]
      case "StatusEvent":
        switch (event.status) {
          case "chat_timedout_waiting_for_agent":
            return [{
              id,
              occurredAt: now,
              type: "request.failed",
              data: { reason: "timeout", message: "no agent joined in time" }
            }]
          case "chat_request_rejected_by_agent":
            return [{
              id,
              occurredAt: now,
              type: "request.failed",
              data: { reason: "rejected", message: "the agent rejected the chat" }
            }]
          case "chat_finished":
            return [ended(chatId, now, "agent")]
          case "chat_finished_error":
            return [ended(chatId, now, "provider")]
          default:
            // chat_ok, chat_issue: nothing the user sees.
            return []
        }
    }
  })
