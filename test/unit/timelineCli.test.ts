/**
 * `npm run timeline`'s rendering (scripts/timeline.ts): one line per entry of every kind, with
 * its time, the gap since the entry before when it is notable, its lane and what it says;
 * colors only when asked for.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { gapText, laneOf, main, renderTimeline } from "../../scripts/timeline.js"
import type { SessionTimeline } from "../../src/domain/timeline.js"

const T0 = Date.parse("2026-12-07T10:00:00.000Z")

const timeline: SessionTimeline = {
  sessionId: "3f2c1d9e-0000-4000-8000-000000000001",
  entries: [
    { at: T0, kind: "created", provider: "helvia-livechat", channel: "webchat", queue: "support" },
    {
      at: T0 + 120,
      kind: "provider.call",
      operation: "create",
      outcome: "ok",
      status: 201,
      latencyMs: 118.4,
      attempt: 1
    },
    { at: T0 + 12_420, kind: "event.received", eventId: "evt-1", type: "agent.joined", via: "webhook" },
    { at: T0 + 12_425, kind: "state", from: "pending", to: "active" },
    {
      at: T0 + 12_430,
      kind: "event.dropped",
      eventId: "evt-1",
      type: "agent.joined",
      reason: "duplicate",
      via: "webhook"
    },
    { at: T0 + 12_431, kind: "event.dropped", reason: "malformed" },
    {
      at: T0 + 12_440,
      kind: "delivery",
      eventId: "evt-1",
      seq: 2,
      target: "hbf-bot",
      attempt: 2,
      outcome: "failed",
      status: 503,
      latencyMs: 12
    },
    {
      at: T0 + 12_500,
      kind: "provider.call",
      operation: "sendMessage",
      outcome: "no-answer",
      latencyMs: 5000,
      attempt: 3
    },
    {
      at: T0 + 137_500,
      kind: "dead-letter",
      eventId: "evt-1",
      target: "hbf-bot",
      attempts: 4,
      reason: "hbf-bot answered 503"
    },
    { at: T0 + 140_000, kind: "replayed", eventId: "evt-1", target: "hbf-bot" },
    {
      at: T0 + 140_020,
      kind: "delivery",
      eventId: "evt-1",
      target: "event-publisher",
      attempt: 1,
      outcome: "delivered",
      status: 200,
      latencyMs: 9
    },
    { at: T0 + 3_900_000, kind: "ended", reason: "timeout", trigger: { by: "timeout", timeout: "inactivity" } },
    { at: T0 + 3_900_001, kind: "ended", reason: "agent", trigger: { by: "event", eventId: "evt-9" } },
    { at: T0 + 3_900_002, kind: "ended", reason: "user", trigger: { by: "call", operation: "terminate" } }
  ]
}

describe("npm run timeline: rendering", () => {
  it("prints a header and one line per entry of every kind: time, notable gap, lane, what it says", () => {
    expect(renderTimeline(timeline, { color: false }).split("\n")).toEqual([
      "Timeline of session 3f2c1d9e-0000-4000-8000-000000000001: 14 entries (2026-12-07, UTC)",
      "10:00:00.000            gateway   created helvia-livechat channel webchat queue support",
      "10:00:00.120            provider  provider.call create ok 201 (118 ms)",
      "10:00:12.420    +12.3s  provider  event.received evt-1 agent.joined via webhook",
      "10:00:12.425            gateway   state pending → active",
      "10:00:12.430            provider  event.dropped evt-1 agent.joined duplicate via webhook",
      "10:00:12.431            provider  event.dropped (no id) malformed",
      "10:00:12.440            hbf-bot   delivery evt-1 #2 → hbf-bot attempt 2 failed 503 (12 ms)",
      "10:00:12.500            provider  provider.call sendMessage attempt 3 no-answer (5000 ms)",
      "10:02:17.500    +2m05s  hbf-bot   dead-letter evt-1 → hbf-bot after 4 attempts: hbf-bot answered 503",
      "10:02:20.000     +2.5s  hbf-bot   replayed evt-1 → hbf-bot",
      "10:02:20.020            hbf-bot   delivery evt-1 → event-publisher delivered 200 (9 ms)",
      "11:05:00.000    +1h02m  gateway   ended timeout by the inactivity timeout",
      "11:05:00.001            gateway   ended agent by event evt-9",
      "11:05:00.002            gateway   ended user by call terminate"
    ])
  })

  it("puts provider exchanges, hbf-bot's deliveries and the session's own changes in their lanes", () => {
    expect(timeline.entries.map((entry) => `${entry.kind}:${laneOf(entry)}`)).toEqual([
      "created:gateway",
      "provider.call:provider",
      "event.received:provider",
      "state:gateway",
      "event.dropped:provider",
      "event.dropped:provider",
      "delivery:hbf-bot",
      "provider.call:provider",
      "dead-letter:hbf-bot",
      "replayed:hbf-bot",
      "delivery:hbf-bot",
      "ended:gateway",
      "ended:gateway",
      "ended:gateway"
    ])
  })

  it("gaps: tenths of seconds under a minute, then minutes and seconds, then hours and minutes", () => {
    expect([gapText(1_000), gapText(12_345), gapText(59_999), gapText(60_000), gapText(3_599_000), gapText(7_380_000)])
      .toEqual(["+1.0s", "+12.3s", "+59.9s", "+1m00s", "+59m59s", "+2h03m"])
  })

  it("colors lanes and trouble only when asked, and says when there is nothing yet", () => {
    const colored = renderTimeline(timeline, { color: true })
    expect(colored).toContain("\u001b[31mdelivery evt-1 #2 → hbf-bot attempt 2 failed 503 (12 ms)\u001b[0m")
    expect(colored).toContain("\u001b[33mevent.dropped (no id) malformed\u001b[0m")
    expect(colored).toContain("\u001b[35mprovider")
    expect(renderTimeline(timeline, { color: false })).not.toContain("\u001b[")
    expect(renderTimeline({ sessionId: "s-1", entries: [] }, { color: false })).toBe(
      "Timeline of session s-1: no entries yet"
    )
  })

  it("shows what a terminal would act on in a field written out: no escape sequence, C1 or bidi control reaches it", () => {
    const osc52 = "\u001b]52;c;cm0gLXJmIH4=\u0007"
    const hostile: SessionTimeline = {
      sessionId: "s\u001b[2J",
      entries: [
        { at: T0, kind: "created", provider: "helvia-livechat", channel: `web${osc52}`, queue: "q\u009b31m" },
        { at: T0 + 1, kind: "event.received", eventId: "evt\u202eexe.txt", type: "agent\u2066.joined", via: "webhook" },
        { at: T0 + 2, kind: "event.dropped", eventId: "e\r\n10:00:00.000  gateway   ended", reason: "duplicate" },
        {
          at: T0 + 3,
          kind: "provider.call",
          operation: "send\u001b[8m",
          outcome: "refused",
          latencyMs: 1,
          attempt: 1
        },
        {
          at: T0 + 4,
          kind: "dead-letter",
          eventId: "e\u0085",
          target: "hbf-bot",
          attempts: 4,
          reason: "hbf-bot answered \u001b[31m"
        },
        { at: T0 + 5, kind: "ended", reason: "agent", trigger: { by: "event", eventId: "e\u2028x\ud800" } }
      ]
    }
    for (const color of [false, true]) {
      const printed = renderTimeline(hostile, { color })
      // Only the script's own colors are escape sequences; nothing else a terminal acts on is left.
      const withoutOwnColors = [0, 1, 2, 31, 33, 34, 35, 36].reduce(
        (text, code) => text.replaceAll(`\u001b[${code}m`, ""),
        printed
      )
      const lines = withoutOwnColors.split("\n")
      expect(lines).toHaveLength(7)
      for (const line of lines) expect(line).not.toMatch(/[\p{Cc}\p{Cs}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u)
    }
    expect(renderTimeline(hostile, { color: false }).split("\n")).toEqual([
      "Timeline of session s\\u{1b}[2J: 6 entries (2026-12-07, UTC)",
      "10:00:00.000            gateway   created helvia-livechat channel web\\u{1b}]52;c;cm0gLXJmIH4=\\u{7} queue q\\u{9b}31m",
      "10:00:00.001            provider  event.received evt\\u{202e}exe.txt agent\\u{2066}.joined via webhook",
      "10:00:00.002            provider  event.dropped e\\u{d}\\u{a}10:00:00.000  gateway   ended duplicate",
      "10:00:00.003            provider  provider.call send\\u{1b}[8m refused (1 ms)",
      "10:00:00.004            hbf-bot   dead-letter e\\u{85} → hbf-bot after 4 attempts: hbf-bot answered \\u{1b}[31m",
      "10:00:00.005            gateway   ended agent by event e\\u{2028}x\\u{d800}"
    ])
  })

  it("writes the gateway's refusal out too: its message cannot drive the terminal", async () => {
    const server = createServer((_, response) => {
      response.writeHead(404, { "content-type": "application/json" })
      response.end(JSON.stringify({ error: "NotFound", message: "no session \u001b]52;c;aGk=\u0007\u202e" }))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const errors: Array<string> = []
    try {
      const code = await main(["alice"], {
        LCG_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        LCG_ADMIN_TOKEN: "t"
      }, { out: () => undefined, err: (text) => errors.push(text), color: true })
      expect(code).toBe(1)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
    expect(errors).toEqual(["404: no session \\u{1b}]52;c;aGk=\\u{7}\\u{202e}"])
  })
})
