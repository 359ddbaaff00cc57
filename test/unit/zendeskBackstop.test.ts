/**
 * One poll of the Sunshine backstop on a scripted API: it reads the messages after its own
 * cursor page by page, ingests the agent's with the cursor of the last one read, and ends
 * the session when the Agent Workspace no longer holds the conversation.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { SessionRecord } from "../../src/domain/model.js"
import type { ZendeskConfig } from "../../src/domain/tenant.js"
import type { ZendeskApiService } from "../../src/providers/zendesk/client.js"
import { zendeskPolling } from "../../src/providers/zendesk/poller.js"
import type { Conversation, Message, MessageList } from "../../src/providers/zendesk/schemas.js"

const session = { sessionId: "s1", tenantId: "t1", provider: "zendesk", status: "active", providerConversationId: "c1" } as SessionRecord
const config = { appId: "app1", apiBaseUrl: "http://sunshine" } as ZendeskConfig
const start = { userId: "u1", since: "2026-11-26T10:00:00.000Z", cursor: "note" }

const message = (id: string, agent: boolean): Message => ({
  id,
  received: "2026-11-26T10:00:05.000Z",
  author: agent ? { type: "business", displayName: "Maria" } : { type: "user", userId: "u1" },
  content: { type: "text", text: id },
  source: { type: agent ? "zd:agentWorkspace" : "api:conversations" }
})

const withAgents: Conversation = { id: "c1", activeSwitchboardIntegration: { name: "zd-agentWorkspace", integrationType: "zd:agentWorkspace" } }
const handedBack: Conversation = { id: "c1", activeSwitchboardIntegration: { name: "hbf-lcg", integrationType: "custom" } }

/** A Sunshine whose message pages are keyed by the cursor asked for. */
const fakeSunshine = (pages: Record<string, MessageList>, conversation: Conversation, open = () => true) => {
  const asked: Array<string> = []
  const ingested: Array<{ ids: ReadonlyArray<string>; state: Readonly<Record<string, unknown>> }> = []
  const api = {
    messagesAfter: (_config, _conversationId, after) =>
      Effect.sync(() => {
        asked.push(after)
        return pages[after] ?? { messages: [], meta: { hasMore: false } }
      }),
    conversation: () => Effect.succeed(conversation)
  } as Pick<ZendeskApiService, "messagesAfter" | "conversation"> as ZendeskApiService
  const polling = zendeskPolling({
    api,
    configOf: () => Effect.succeed(config),
    ingest: (_sessionId, events, state) =>
      Effect.sync(() => {
        ingested.push({ ids: events.map((e) => e.id), state })
        return { accepted: events.length, open: open() }
      }),
    interval: Duration.seconds(30)
  })
  return { polling, asked, ingested }
}

describe("Sunshine polling backstop", () => {
  it.effect("reads every page after its cursor and ingests the agent's messages with the cursor of the last message read", () =>
    Effect.gen(function* () {
      const { asked, ingested, polling } = fakeSunshine(
        {
          note: { messages: [message("a1", true), message("u1", false)], meta: { hasMore: true, afterCursor: "u1" } },
          u1: { messages: [message("u2", false)], meta: { hasMore: false } }
        },
        withAgents
      )
      const result = yield* polling.poll(config, session, start)
      expect(asked).toEqual(["note", "u1"])
      expect(ingested).toEqual([
        { ids: ["zendesk:message:a1:joined", "zendesk:message:a1"], state: { cursor: "u1" } },
        { ids: [], state: { cursor: "u2" } }
      ])
      expect(result).toEqual({ state: { ...start, cursor: "u2" }, open: true })
    })
  )

  it.effect("nothing new: nothing is written, the cursor stays", () =>
    Effect.gen(function* () {
      const { ingested, polling } = fakeSunshine({}, withAgents)
      expect(yield* polling.poll(config, session, start)).toEqual({ state: start, open: true })
      expect(ingested).toEqual([])
    })
  )

  it.effect("a conversation the Agent Workspace no longer holds (its hand-back webhook missed) ends the session", () =>
    Effect.gen(function* () {
      const { ingested, polling } = fakeSunshine({}, handedBack, () => false)
      const result = yield* polling.poll(config, session, start)
      expect(ingested.map((i) => i.ids)).toEqual([["zendesk:c1:s1:released:left", "zendesk:c1:s1:released:ended"]])
      expect(result.open).toBe(false)
    })
  )
})
