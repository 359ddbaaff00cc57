/**
 * One poll of the Sunshine backstop on a scripted API: it reads who holds the conversation
 * first, walks back from the newest page to its cursor, ingests the agent's messages with the
 * cursor of the newest one, and only then ends a session the Agent Workspace gave back.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { SessionRecord } from "../../src/domain/model.js"
import type { ZendeskConfig } from "../../src/domain/tenant.js"
import type { MessagePage, ZendeskApiService, ZendeskApp } from "../../src/providers/zendesk/client.js"
import { zendeskPolling } from "../../src/providers/zendesk/poller.js"
import type { Conversation, Message } from "../../src/providers/zendesk/schemas.js"

const session = {
  sessionId: "s1",
  tenantId: "t1",
  provider: "zendesk",
  status: "active",
  providerConversationId: "c1"
} as SessionRecord
const config: ZendeskApp = { tenantId: "t1", config: { appId: "app1", apiBaseUrl: "http://sunshine" } as ZendeskConfig }
const start = { userId: "u1", since: "2026-11-26T10:00:00.000Z", cursor: "note" }

const message = (id: string, agent: boolean, received = "2026-11-26T10:00:05.000Z"): Message => ({
  id,
  received,
  author: agent ? { type: "business", displayName: "Maria" } : { type: "user", userId: "u1" },
  content: { type: "text", text: id },
  source: { type: agent ? "zd:agentWorkspace" : "api:conversations" }
})
const note = message("note", false, "2026-11-26T10:00:00.000Z")
const page = (messages: ReadonlyArray<Message>, hasMore: boolean): MessagePage => ({ messages, hasMore, unreadable: 0 })

const withAgents: Conversation = {
  id: "c1",
  activeSwitchboardIntegration: { name: "zd-agentWorkspace", integrationType: "zd:agentWorkspace" }
}
const handedBack: Conversation = {
  id: "c1",
  activeSwitchboardIntegration: { name: "hbf-lcg", integrationType: "custom" }
}

/** A Sunshine whose message pages are keyed by the `page[before]` asked for ("newest" for none). */
const fakeSunshine = (pages: Record<string, MessagePage>, conversation: Conversation, open = () => true) => {
  const calls: Array<string> = []
  const ingested: Array<{ ids: ReadonlyArray<string>; state: Readonly<Record<string, unknown>> }> = []
  const api: Pick<ZendeskApiService, "messagesBefore" | "conversation"> = {
    messagesBefore: (_config, _conversationId, before) =>
      Effect.sync(() => {
        calls.push(`messages before ${before ?? "-"}`)
        return pages[before ?? "newest"] ?? page([], false)
      }),
    conversation: () => Effect.sync(() => (calls.push("conversation"), conversation))
  }
  const polling = zendeskPolling({
    api: api as ZendeskApiService,
    configOf: () => Effect.succeed(config),
    ingest: (_sessionId, events, state) =>
      Effect.sync(() => {
        ingested.push({ ids: events.map((e) => e.id), state })
        return { accepted: events.length, open: open() }
      }),
    interval: Duration.seconds(30)
  })
  return { polling, calls, ingested }
}

describe("Sunshine polling backstop", () => {
  it.effect("reads who holds the conversation, then walks back page by page to its cursor and ingests what came after it, oldest first", () =>
    Effect.gen(function*() {
      const { calls, ingested, polling } = fakeSunshine(
        {
          newest: page([message("a3", true), message("u2", false)], true),
          a3: page([note, message("a1", true), message("u1", false)], true)
        },
        withAgents
      )
      const result = yield* polling.poll(config, session, start)
      expect(calls).toEqual(["conversation", "messages before -", "messages before a3"])
      expect(ingested).toEqual([
        {
          ids: ["zendesk:message:a1:joined", "zendesk:message:a1", "zendesk:message:a3:joined", "zendesk:message:a3"],
          state: { cursor: "u2" }
        }
      ])
      expect(result).toEqual({ state: { ...start, cursor: "u2" }, open: true })
    }))

  it.effect("nothing new after the cursor: nothing is written, the cursor stays", () =>
    Effect.gen(function*() {
      const { ingested, polling } = fakeSunshine({
        newest: page([message("old", true, "2026-11-26T09:00:00.000Z"), note], true)
      }, withAgents)
      expect(yield* polling.poll(config, session, start)).toEqual({ state: start, open: true })
      expect(ingested).toEqual([])
    }))

  it.effect("a cursor message that is gone: the walk stops at the session's start, and nothing from before it is read", () =>
    Effect.gen(function*() {
      const { calls, ingested, polling } = fakeSunshine(
        {
          newest: page([message("a2", true)], true),
          a2: page([message("earlier", true, "2026-11-26T09:59:00.000Z"), message("a1", true)], true)
        },
        withAgents
      )
      yield* polling.poll(config, session, { ...start, cursor: "deleted" })
      expect(calls).toEqual(["conversation", "messages before -", "messages before a2"])
      expect(ingested[0]!.ids.filter((id) => !id.endsWith(":joined"))).toEqual([
        "zendesk:message:a1",
        "zendesk:message:a2"
      ])
    }))

  it.effect("a conversation the Agent Workspace gave back ends the session, after the agent's last messages", () =>
    Effect.gen(function*() {
      const { ingested, polling } = fakeSunshine({ newest: page([note, message("bye", true)], false) }, handedBack)
      const result = yield* polling.poll(config, session, start)
      expect(ingested.map((i) => i.ids)).toEqual([
        ["zendesk:message:bye:joined", "zendesk:message:bye"],
        ["zendesk:c1:s1:released:left", "zendesk:c1:s1:released:ended"]
      ])
      expect(result.open).toBe(true)
    }))
})
