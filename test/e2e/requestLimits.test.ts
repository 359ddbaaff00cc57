/**
 * What a request may carry into a session (README "Limits"): metadata, the bot transcript, the
 * user, channel and queue, a message's text and attachments, and values in all. Each limit exceeded is a 400 naming it; a request at the limit is served.
 * PATCH merges metadata into the session's, and the merged metadata is held to the same limits.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { jsonBytes, requestLimits } from "../../src/domain/model.js"
import { type Gateway, startGateway, stores } from "./harness.js"

/** Metadata with `keys` keys (`k00`, `k01`, …) whose JSON is exactly `bytes` bytes, no value over 2 KB. */
const metadataOf = (keys: number, bytes: number, prefix = "k") => {
  const metadata: Record<string, string> = {}
  for (let i = 0; i < keys; i++) metadata[`${prefix}${String(i).padStart(2, "0")}`] = ""
  let missing = bytes - jsonBytes(metadata)
  for (const key of Object.keys(metadata)) {
    const padding = Math.min(missing, requestLimits.metadataValueBytes)
    metadata[key] = "x".repeat(padding)
    missing -= padding
  }
  if (missing !== 0 || jsonBytes(metadata) !== bytes) throw new Error(`no metadata of ${keys} keys is ${bytes} bytes`)
  return metadata
}

/** A bot transcript of `entries` entries whose JSON is exactly `bytes` bytes. */
const transcriptOf = (entries: number, bytes: number) => {
  const transcript = Array.from(
    { length: entries },
    (_, i) => ({ author: i % 2 === 0 ? "user" : "bot", text: "", at: "2026-11-26T10:00:00Z" })
  )
  transcript[0]!.text = "x".repeat(bytes - jsonBytes(transcript))
  if (jsonBytes(transcript) !== bytes) throw new Error(`no transcript of ${entries} entries is ${bytes} bytes`)
  return transcript
}

const request = (gw: Gateway, subHandle: string, fields: Record<string, unknown>, tenantId = "demo-helvia") =>
  gw.call("POST", "/requests", { tenantId, subHandle, ...fields })

/** A 400 whose message names the limit, for `path`. */
const expectRefused = (answer: { status: number; body: any }, message: string) => {
  expect(answer.status).toBe(400)
  expect(answer.body.error).toBe("BadRequest")
  expect(answer.body.message).toBe(message)
}

describe("request limits", () => {
  it.live("metadata: at most 50 keys, 256 characters per key, 2 KB per value, 16 KB in all", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      expectRefused(yield* request(gw, "a1", { metadata: metadataOf(51, 1_000) }), "metadata: at most 50 keys")
      expect((yield* request(gw, "a2", { metadata: metadataOf(50, 1_000) })).status).toBe(201)

      expectRefused(
        yield* request(gw, "b1", { metadata: { ["k".repeat(257)]: 1 } }),
        "metadata: at most 256 characters per key"
      )
      expect((yield* request(gw, "b2", { metadata: { ["k".repeat(256)]: 1 } })).status).toBe(201)

      // Bytes, not characters: 1,025 two-byte characters are 2,050 bytes.
      expectRefused(
        yield* request(gw, "c1", { metadata: { note: "é".repeat(1_025) } }),
        "metadata: at most 2048 bytes (2 KB) per value"
      )
      expect((yield* request(gw, "c2", { metadata: { note: "é".repeat(1_024) } })).status).toBe(201)

      expectRefused(
        yield* request(gw, "d1", { metadata: metadataOf(9, 16 * 1024 + 1) }),
        "metadata: at most 16384 bytes (16 KB) in all"
      )
      const atLimit = metadataOf(9, 16 * 1024)
      const created = yield* request(gw, "d2", { metadata: atLimit })
      expect(created.status).toBe(201)
      const admin = `Bearer ${yield* gw.token({ scope: "admin" })}`
      expect(
        (yield* gw.call("GET", `/admin/sessions/${created.body.sessionId}`, undefined, { authorization: admin })).body
          .metadata
      ).toEqual(atLimit)
    }).pipe(Effect.scoped))

  describe.each(stores)("%s store", (store) => {
    it.live("PATCH: its metadata within the limits alone, and merged into the session's too; a refused PATCH changes nothing", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const admin = `Bearer ${yield* gw.token({ scope: "admin" })}`
        const created = yield* request(gw, "alice", { metadata: metadataOf(40, 12 * 1024) })
        expect(created.status).toBe(201)
        const stored = () =>
          Effect.map(
            gw.call("GET", `/admin/sessions/${created.body.sessionId}`, undefined, { authorization: admin }),
            (answer) => answer.body.metadata
          )
        const patch = (metadata: Record<string, unknown>) =>
          gw.call("PATCH", "/requests/subscribers/alice", { metadata })
        const before = yield* stored()

        // On the request itself.
        expectRefused(yield* patch(metadataOf(51, 1_000, "p")), "metadata: at most 50 keys")
        // Each within the limits alone, over them merged: 40 + 11 keys; 12 KB + 5 KB.
        expectRefused(
          yield* patch(metadataOf(11, 500, "p")),
          "metadata: at most 50 keys, merged with the session's metadata"
        )
        expectRefused(
          yield* patch(metadataOf(3, 5 * 1024, "p")),
          "metadata: at most 16384 bytes (16 KB) in all, merged with the session's metadata"
        )
        expect(yield* stored()).toEqual(before)

        // Replacing values keeps the keys: 40 keys whose values are shorter, then 10 new keys, to exactly 16 KB.
        const shorter = Object.fromEntries(Object.keys(before).map((key) => [key, "y"]))
        expect((yield* patch(shorter)).status).toBe(200)
        const toLimit = metadataOf(10, 16 * 1024 - jsonBytes(shorter) + 1, "p")
        expect((yield* patch(toLimit)).status).toBe(200)
        const merged = yield* stored()
        expect(Object.keys(merged)).toHaveLength(50)
        expect(jsonBytes(merged)).toBe(16 * 1024)
        // One byte more: a value one character longer.
        expectRefused(
          yield* patch({ k00: "yy" }),
          "metadata: at most 16384 bytes (16 KB) in all, merged with the session's metadata"
        )
        expect(yield* stored()).toEqual(merged)
      }).pipe(Effect.scoped))
  })

  it.live("transcript: at most 200 entries and 64 KB", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      expectRefused(
        yield* request(gw, "a1", { transcript: transcriptOf(201, 20_000) }),
        "transcript: at most 200 entries"
      )
      expect((yield* request(gw, "a2", { transcript: transcriptOf(200, 20_000) })).status).toBe(201)
      expectRefused(
        yield* request(gw, "b1", { transcript: transcriptOf(3, 64 * 1024 + 1) }),
        "transcript: at most 65536 bytes (64 KB) in all"
      )
      const atLimit = transcriptOf(3, 64 * 1024)
      const created = yield* request(gw, "b2", { transcript: atLimit })
      expect(created.status).toBe(201)
      expect(gw.lcm.request(created.body.sessionId)?.body.extras.transcript).toEqual(atLimit)
    }).pipe(Effect.scoped))

  it.live("a message's text: at most 16 KB, whole where the provider takes it, in parts of 4,096 characters on Sunshine", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const helvia = yield* request(gw, "alice", {})
      const zendesk = yield* request(gw, "bob", {}, "demo-zendesk")
      const send = (tenantId: string, subHandle: string, messageId: string, text: string) =>
        gw.call("POST", "/messages", { tenantId, subHandle, messageId, text })

      // Bytes, not characters: 8,193 two-byte characters are 16,386 bytes.
      expectRefused(yield* send("demo-helvia", "alice", "m1", "é".repeat(8_193)), "text: at most 16384 bytes (16 KB)")
      expectRefused(
        yield* send("demo-helvia", "alice", "m2", "x".repeat(16 * 1024 + 1)),
        "text: at most 16384 bytes (16 KB)"
      )
      const whole = "é".repeat(8_192)
      expect((yield* send("demo-helvia", "alice", "m3", whole)).status).toBe(202)
      expect(gw.lcm.messages(helvia.body.sessionId).map((m) => m.text)).toEqual([whole])

      expectRefused(
        yield* send("demo-zendesk", "bob", "m1", "x".repeat(16 * 1024 + 1)),
        "text: at most 16384 bytes (16 KB)"
      )
      const long = "x".repeat(16 * 1024)
      expect((yield* send("demo-zendesk", "bob", "m2", long)).status).toBe(202)
      const parts = gw.zendesk
        .conversationOf("bob")!
        .messages.filter((m) => m.author.type === "user")
        .map((m) => (m.content as { text: string }).text)
      expect(parts.map((part) => part.length)).toEqual([4_096, 4_096, 4_096, 4_096])
      expect(parts.join("")).toBe(long)
      expect(zendesk.status).toBe(201)
    }).pipe(Effect.scoped))

  it.live("the user's fields, the channel and the queue: at most 256 characters each, on POST and on PATCH (which merges the user)", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const long = "x".repeat(257)
      expectRefused(yield* request(gw, "a1", { user: { name: long } }), "user.name: must be at most 256 characters")
      expectRefused(yield* request(gw, "a1", { user: { email: long } }), "user.email: must be at most 256 characters")
      expectRefused(yield* request(gw, "a1", { channel: long }), "channel: must be at most 256 characters")
      expectRefused(yield* request(gw, "a1", { queue: long }), "queue: must be at most 256 characters")
      const atLimit = "x".repeat(256)
      expect(
        (yield* request(gw, "a1", { user: { name: atLimit, phone: atLimit }, channel: atLimit, queue: atLimit })).status
      ).toBe(201)
      expectRefused(
        yield* gw.call("PATCH", "/requests/subscribers/a1", { user: { locale: long } }),
        "user.locale: must be at most 256 characters"
      )
      expect((yield* gw.call("PATCH", "/requests/subscribers/a1", { user: { locale: "el-GR" } })).status).toBe(200)
    }).pipe(Effect.scoped))

  it.live("attachments: at most 10 a message, URLs of at most 2,048 characters, names of at most 256 (CCP puts both in the chat's text)", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      expect((yield* request(gw, "alice", {})).status).toBe(201)
      const attachment = (i: number) => ({
        url: `https://files.example/${i}.png`,
        contentType: "image/png",
        name: `${i}.png`
      })
      const send = (messageId: string, attachments: ReadonlyArray<unknown>) =>
        gw.call("POST", "/messages", { tenantId: "demo-helvia", subHandle: "alice", messageId, attachments })
      expectRefused(
        yield* send("m1", Array.from({ length: 11 }, (_, i) => attachment(i))),
        "attachments: at most 10 attachments"
      )
      expectRefused(
        yield* send("m2", [{ ...attachment(0), name: "n".repeat(900_000) }]),
        "attachments.0.name: must be at most 256 characters"
      )
      expectRefused(
        yield* send("m3", [{ ...attachment(0), url: `https://files.example/${"u".repeat(2_048)}` }]),
        "attachments.0.url: must be at most 2048 characters"
      )
      expect((yield* send("m4", Array.from({ length: 10 }, (_, i) => attachment(i)))).status).toBe(202)
    }).pipe(Effect.scoped))

  it.live("a body of more than 4,096 values is refused before it is decoded, not decoded wrong value by wrong value", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      // 1 MiB of wrong transcript entries: each one an issue to decode and describe, 7.8 s of the event loop before the bound.
      const entries = Array.from({ length: 340_000 }, () => ({}))
      expectRefused(yield* request(gw, "a1", { transcript: entries }), "holds more than 4096 values")
      const wrongMessages = Array.from({ length: 5_000 }, () => 1)
      expectRefused(
        yield* gw.call("POST", "/messages", {
          tenantId: "demo-helvia",
          subHandle: "a1",
          messageId: "m1",
          attachments: wrongMessages
        }),
        "holds more than 4096 values"
      )
      // The largest valid transcript is far below the bound.
      expect(
        (yield* request(gw, "a2", { transcript: transcriptOf(200, 20_000), metadata: metadataOf(50, 8_000) })).status
      ).toBe(201)
    }).pipe(Effect.scoped))
})
