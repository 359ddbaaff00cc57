/**
 * Sunshine webhook bodies as Sunshine posts them (docs/PROVIDERS.md#sunshine-webhooks), for tests
 * and benchmarks that post them themselves.
 */
import { demoZendesk } from "../../sandbox/demoTenants.js"

/** A `conversation:message` webhook of one agent message (the Agent Workspace's, business-authored). */
export const agentMessageWebhook = (
  conversationId: string,
  eventId: string,
  messageId: string,
  text: string,
  received: string
) => ({
  app: { id: demoZendesk.appId },
  webhook: { id: "wh-test", version: "v2" },
  events: [
    {
      id: eventId,
      createdAt: received,
      type: "conversation:message",
      payload: {
        conversation: { id: conversationId, type: "personal" },
        message: {
          id: messageId,
          received,
          author: { type: "business", displayName: "Maria" },
          content: { type: "text", text },
          source: { type: "zd:agentWorkspace" }
        }
      }
    }
  ]
})
