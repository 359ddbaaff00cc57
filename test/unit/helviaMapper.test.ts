import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { createHmac } from "node:crypto"
import { mapHelviaEvent } from "../../src/providers/helvia/mapper.js"
import { validHelviaSignature } from "../../src/providers/helvia/provider.js"
import { HelviaWebhook } from "../../src/providers/helvia/webhook.js"

const decode = Schema.decodeUnknownSync(HelviaWebhook)

const base = {
  platformSessionId: "sess-1",
  platformUserId: "sub-1",
  occurredAt: "2026-01-01T10:00:00.000Z"
}
const agent = { id: "ag1", fullName: "Alice Agent", image: "https://x/a.png" }

describe("mapHelviaEvent", () => {
  it("CONVERSATION_BEGIN -> agent.joined with the agent", () => {
    const events = mapHelviaEvent(decode({ ...base, id: "e1", type: "CONVERSATION_BEGIN", agent }))
    expect(events).toEqual([
      {
        id: "helvia-livechat:e1",
        occurredAt: base.occurredAt,
        type: "agent.joined",
        data: { agent: { id: "ag1", name: "Alice Agent", avatarUrl: "https://x/a.png" } }
      }
    ])
  })

  it("CONVERSATION_BEGIN without agent -> agent.joined with an empty agent", () => {
    const [event] = mapHelviaEvent(decode({ ...base, id: "e1", type: "CONVERSATION_BEGIN" }))
    expect(event).toMatchObject({ type: "agent.joined", data: { agent: {} } })
  })

  it("MESSAGE -> agent.message with text and attachments mapped", () => {
    const events = mapHelviaEvent(
      decode({
        ...base,
        id: "e2",
        type: "MESSAGE",
        agent: { fullName: "Alice Agent" },
        message: {
          text: "hello",
          attachments: [{ name: "doc.pdf", path: "https://files/doc.pdf", mimetype: "application/pdf" }]
        }
      })
    )
    expect(events).toEqual([
      {
        id: "helvia-livechat:e2",
        occurredAt: base.occurredAt,
        type: "agent.message",
        data: {
          text: "hello",
          attachments: [{ url: "https://files/doc.pdf", contentType: "application/pdf", name: "doc.pdf" }],
          agent: { name: "Alice Agent" }
        }
      }
    ])
  })

  it("CONVERSATION_TYPING -> agent.typing", () => {
    expect(mapHelviaEvent(decode({ ...base, id: "e3", type: "CONVERSATION_TYPING", typing: false }))).toEqual([
      { id: "helvia-livechat:e3", occurredAt: base.occurredAt, type: "agent.typing", data: { typing: false } }
    ])
    expect(mapHelviaEvent(decode({ ...base, id: "e3b", type: "CONVERSATION_TYPING", typing: true }))[0]).toMatchObject({
      data: { typing: true }
    })
    // hbf-lcm naming the typist: the event names them as the join does.
    expect(mapHelviaEvent(decode({ ...base, id: "e3c", type: "CONVERSATION_TYPING", agent }))[0]!.data).toEqual({
      typing: true,
      agent: { id: "ag1", name: "Alice Agent", avatarUrl: "https://x/a.png" }
    })
  })

  it("CONVERSATION_END -> session.ended reason agent", () => {
    expect(mapHelviaEvent(decode({ ...base, id: "e4", type: "CONVERSATION_END" }))).toEqual([
      { id: "helvia-livechat:e4", occurredAt: base.occurredAt, type: "session.ended", data: { reason: "agent" } }
    ])
  })

  it("TRANSFER_REQUEST -> agent.left then request.queued with distinct ids", () => {
    const events = mapHelviaEvent(decode({ ...base, id: "e5", type: "TRANSFER_REQUEST", agent }))
    expect(events.map((e) => e.type)).toEqual(["agent.left", "request.queued"])
    expect(events[0]!.id).not.toBe(events[1]!.id)
    expect(new Set(events.map((e) => e.id)).size).toBe(2)
    expect(events[0]!.data).toEqual({ agent: { id: "ag1", name: "Alice Agent", avatarUrl: "https://x/a.png" } })
    // The requeue names who handed the chat back, as the leave does.
    expect(events[1]!.data).toEqual(events[0]!.data)
  })

  it("REQUEST_MISSED -> request.failed reason missed", () => {
    const events = mapHelviaEvent(decode({ ...base, id: "e6", type: "REQUEST_MISSED" }))
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ id: "helvia-livechat:e6", type: "request.failed", data: { reason: "missed" } })
  })

  it("ids are deterministic: the same webhook maps to the same ids", () => {
    const payload = { ...base, id: "e7", type: "TRANSFER_REQUEST" }
    expect(mapHelviaEvent(decode(payload)).map((e) => e.id)).toEqual(mapHelviaEvent(decode(payload)).map((e) => e.id))
    const other = mapHelviaEvent(decode({ ...payload, id: "e8" })).map((e) => e.id)
    expect(other).not.toEqual(mapHelviaEvent(decode(payload)).map((e) => e.id))
  })
})

describe("validHelviaSignature", () => {
  const secret = "s3cret"
  const body = new TextEncoder().encode(JSON.stringify({ ...base, id: "e1", type: "CONVERSATION_END" }))
  const hex = createHmac("sha256", secret).update(body).digest("hex")

  it("accepts the correct signature", () => {
    expect(validHelviaSignature(secret, body, `sha256=${hex}`)).toBe(true)
  })

  it("rejects a signature made with another secret", () => {
    const wrong = createHmac("sha256", "other").update(body).digest("hex")
    expect(validHelviaSignature(secret, body, `sha256=${wrong}`)).toBe(false)
  })

  it("rejects a signature over another body", () => {
    expect(validHelviaSignature(secret, new TextEncoder().encode("{}"), `sha256=${hex}`)).toBe(false)
  })

  it("rejects a header without the sha256= prefix, or none", () => {
    expect(validHelviaSignature(secret, body, hex)).toBe(false)
    expect(validHelviaSignature(secret, body, undefined)).toBe(false)
  })

  it("rejects a signature of the wrong length", () => {
    expect(validHelviaSignature(secret, body, `sha256=${hex.slice(0, 32)}`)).toBe(false)
    expect(validHelviaSignature(secret, body, `sha256=${hex}00`)).toBe(false)
    expect(validHelviaSignature(secret, body, "sha256=")).toBe(false)
  })
})
