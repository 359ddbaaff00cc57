/**
 * CCP chat XML shaped as docs/PROVIDERS.md#cisco-ccp-chat gives it -> events; what we send; bodies
 * form-encoded like Java's URLEncoder.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { mapCcpEvents } from "../../src/providers/cisco/mapper.js"
import { transcriptText } from "../../src/providers/cisco/provider.js"
import {
  apiErrorType,
  decodeFormBody,
  messageXml,
  parseChatEvents,
  socialContactXml,
  typingXml
} from "../../src/providers/cisco/xml.js"

const NOW = "2026-11-26T10:00:00.000Z"
const chatId = "0123456789abcdef0123456789abcdef"

/** A poll answer with the event types interleaved, as CCP sends them (ids increase with gaps). */
const poll = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<chatEvents>
  <PresenceEvent><id>3</id><from>Maria</from><status>joined</status></PresenceEvent>
  <TypingEvent><id>5</id><from>Maria</from><status>composing</status></TypingEvent>
  <MessageEvent><id>7</id><from>Maria</from><body>Hello+Alice%2C+1%2B1%3D2+%CE%9A%CE%B1%CE%BB%CE%B7%CE%BC%CE%AD%CF%81%CE%B1</body></MessageEvent>
  <TypingEvent><id>8</id><from>Alice</from><status>composing</status></TypingEvent>
  <TypingEvent><id>9</id><from>Maria</from><status>paused</status></TypingEvent>
  <StatusEvent><id>10</id><status>chat_ok</status><detail/></StatusEvent>
  <PresenceEvent><id>12</id><from>Maria</from><status>left</status></PresenceEvent>
</chatEvents>`

describe("CCP poll answers", () => {
  it.effect("parse in id order across types, map to joined, typing, message, left and ended; the customer's own events are skipped", () =>
    Effect.gen(function*() {
      const { events, unreadable } = yield* parseChatEvents(poll)
      expect(unreadable).toEqual([])
      expect(events.map((e) => [e._tag, e.id])).toEqual([
        ["PresenceEvent", 3],
        ["TypingEvent", 5],
        ["MessageEvent", 7],
        ["TypingEvent", 8],
        ["TypingEvent", 9],
        ["StatusEvent", 10],
        ["PresenceEvent", 12]
      ])
      const mapped = mapCcpEvents(chatId, "Alice", events, NOW)
      expect(mapped.map((e) => [e.id, e.type])).toEqual([
        [`cisco-livechat:${chatId}:3`, "agent.joined"],
        [`cisco-livechat:${chatId}:5`, "agent.typing"],
        [`cisco-livechat:${chatId}:7`, "agent.message"],
        [`cisco-livechat:${chatId}:9`, "agent.typing"],
        [`cisco-livechat:${chatId}:12`, "agent.left"],
        [`cisco-livechat:${chatId}:ended`, "session.ended"]
      ])
      expect(mapped[2]!.data).toEqual({ text: "Hello Alice, 1+1=2 Καλημέρα", agent: { name: "Maria" } })
      expect(mapped[3]!.data).toEqual({ typing: false, agent: { name: "Maria" } })
      expect(mapped[5]!.data).toEqual({ reason: "agent" })
    }))

  it.effect("an empty answer is no events; no agent in time is request.failed; chat_finished ends", () =>
    Effect.gen(function*() {
      expect(yield* parseChatEvents("<chatEvents/>")).toEqual({ events: [], unreadable: [] })
      const { events: statuses } = yield* parseChatEvents(
        "<chatEvents><StatusEvent><id>2</id><status>chat_timedout_waiting_for_agent</status><detail>60</detail></StatusEvent><StatusEvent><id>4</id><status>chat_finished_error</status><detail/></StatusEvent></chatEvents>"
      )
      expect(mapCcpEvents(chatId, "Alice", statuses, NOW).map((e) => [e.type, e.data])).toEqual([
        ["request.failed", { reason: "timeout", message: "no agent joined in time" }],
        ["session.ended", { reason: "provider" }]
      ])
    }))

  it.effect("malformed XML and a missing root are typed errors, not crashes", () =>
    Effect.gen(function*() {
      for (const bad of ["<chatEvents><MessageEvent><id>1</id>", "not xml at all", "<other/>"]) {
        const exit = yield* Effect.exit(parseChatEvents(bad))
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("CiscoXmlError")
      }
    }))

  it.effect("an unreadable event is skipped (and named by its type only), so it cannot block the chat", () =>
    Effect.gen(function*() {
      const parsed = yield* parseChatEvents(
        "<chatEvents><MessageEvent><id>x</id><from>a</from><body>b</body></MessageEvent><MessageEvent><id>5</id><from>Maria</from><body>ok</body></MessageEvent></chatEvents>"
      )
      expect(parsed.unreadable).toEqual(["MessageEvent"])
      expect(parsed.events.map((e) => e.id)).toEqual([5])
    }))

  it.effect("an element's type is its element name: a <_tag> child cannot turn a message into the chat's end", () =>
    Effect.gen(function*() {
      const { events, unreadable } = yield* parseChatEvents(
        "<chatEvents><MessageEvent><id>7</id><from>Maria</from><body>hi</body><_tag>StatusEvent</_tag><status>chat_finished</status></MessageEvent></chatEvents>"
      )
      expect(unreadable).toEqual([])
      expect(events.map((e) => e._tag)).toEqual(["MessageEvent"])
      expect(mapCcpEvents(chatId, "Alice", events, NOW).map((e) => [e.type, e.data])).toEqual([["agent.message", {
        text: "hi",
        agent: { name: "Maria" }
      }]])
    }))

  it("the error type of an apiErrors body", () => {
    expect(
      apiErrorType(
        "<apiErrors><apiError><errorData>x</errorData><errorMessage>unknown chat</errorMessage><errorType>notFound</errorType></apiError></apiErrors>"
      )
    ).toBe(
      "notFound"
    )
    expect(apiErrorType("<chatEvents/>")).toBeUndefined()
    expect(apiErrorType("<<")).toBeUndefined()
  })
})

describe("form-encoded bodies", () => {
  it("decode + as a space before percent-decoding, keep a literal +, and survive bad escapes", () => {
    expect(decodeFormBody("a+b%2Bc+%26+%3C%3E")).toBe("a b+c & <>")
    expect(decodeFormBody("100%25+sure")).toBe("100% sure")
    expect(decodeFormBody("broken%E0%A4%A")).toBe("broken%E0%A4%A")
  })
})

describe("what we send", () => {
  it("SocialContact, Message and TypingEvent are XML with the text escaped", () => {
    expect(
      socialContactXml({
        feedRefUrl: "https://ccp.example.com/ccp-webapp/ccp/feed/100000",
        author: "Alice & Bob",
        title: "Livechat request from Alice & Bob",
        extensionFields: [["ccxqueuetag", "Chat_Csq3"], ["transcript", "<b>hi</b>"]]
      })
    ).toBe(
      "<SocialContact><feedRefURL>https://ccp.example.com/ccp-webapp/ccp/feed/100000</feedRefURL><author>Alice &amp; Bob</author><title>Livechat request from Alice &amp; Bob</title><extensionFields><extensionField><name>ccxqueuetag</name><value>Chat_Csq3</value></extensionField><extensionField><name>transcript</name><value>&lt;b&gt;hi&lt;/b&gt;</value></extensionField></extensionFields></SocialContact>"
    )
    expect(messageXml("1 < 2 & 3")).toBe("<Message><body>1 &lt; 2 &amp; 3</body></Message>")
    expect(typingXml("Alice", "composing")).toBe(
      "<TypingEvent><from>Alice</from><status>composing</status></TypingEvent>"
    )
  })

  it("the transcript extension field keeps its latest 4,000 characters", () => {
    const long = Array.from(
      { length: 200 },
      (_, i) => ({ author: "user" as const, text: `message number ${i} `.repeat(3), at: `t${i}` })
    )
    const text = transcriptText(long)
    expect(text.length).toBe(4_000)
    expect(text.startsWith("…")).toBe(true)
    expect(text.endsWith("message number 199 ")).toBe(true)
  })
})
