/**
 * `npm run timeline -- <sessionId|subHandle> [--tenant <tenantId>]`: what happened to a chat,
 * read from a running gateway's admin API (`LCG_URL`, default http://127.0.0.1:3000, and
 * `LCG_ADMIN_TOKEN`, a token with `scope: admin`) and printed one line per entry: its time, the
 * gap since the entry before when it is worth a look, its lane (provider, gateway or hbf-bot)
 * and what it says. Colors only on a terminal, and never with NO_COLOR set.
 */
import { Either, Schema } from "effect"
import { fileURLToPath } from "node:url"
import { type Lane, LANE_OF_KIND, LANES, NOTABLE_GAP_MS } from "../console/lanes.js"
import { type EndTrigger, SessionTimeline } from "../src/domain/timeline.js"

type Entry = SessionTimeline["entries"][number]

/** The side of the chat an entry happened on, as the console draws it (console/lanes.js). */
export const laneOf = (entry: Entry): Lane => LANE_OF_KIND[entry.kind]

/**
 * Characters a terminal acts on rather than shows, in a field a tenant or a provider chose (a
 * channel, an event id): C0 and C1 controls (ESC starts ANSI and OSC sequences: a clipboard write,
 * a cleared screen), unpaired surrogates, line and paragraph separators and the bidi controls
 * that would make a line read other than it is.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

/** A data field as the terminal may show it: what it would act on written out as `\u{1b}`. */
const printable = (text: string): string =>
  text.replace(UNPRINTABLE, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`)

/** `+1.2s`, `+2m05s`, `+1h02m`. */
export const gapText = (ms: number): string => {
  if (ms < 60_000) return `+${(Math.floor(ms / 100) / 10).toFixed(1)}s`
  const seconds = Math.floor(ms / 1000)
  if (seconds < 3600) return `+${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`
  return `+${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, "0")}m`
}

const triggerText = (trigger: EndTrigger): string => {
  switch (trigger.by) {
    case "event":
      return `by event ${trigger.eventId}`
    case "timeout":
      return `by the ${trigger.timeout} timeout`
    case "call":
      return `by call ${trigger.operation}`
  }
}

const ms = (latencyMs: number) => `(${Math.round(latencyMs)} ms)`
const attemptText = (attempt: number) => (attempt > 1 ? ` attempt ${attempt}` : "")

/** What an entry says, compactly, with whether it tells of something that went wrong. */
const describe = (entry: Entry): { readonly text: string; readonly trouble: "failure" | "drop" | undefined } => {
  const words = (text: string, trouble?: "failure" | "drop") => ({ text, trouble })
  switch (entry.kind) {
    case "created":
      return words(
        `created ${entry.provider}${entry.channel !== undefined ? ` channel ${entry.channel}` : ""}${
          entry.queue !== undefined ? ` queue ${entry.queue}` : ""
        }`
      )
    case "state":
      return words(`state ${entry.from} → ${entry.to}`)
    case "provider.call":
      return words(
        `provider.call ${entry.operation}${attemptText(entry.attempt)} ${entry.outcome}${
          entry.status !== undefined ? ` ${entry.status}` : ""
        } ${ms(entry.latencyMs)}`,
        entry.outcome === "ok" ? undefined : "failure"
      )
    case "event.received":
      return words(`event.received ${entry.eventId} ${entry.type} via ${entry.via}`)
    case "event.dropped":
      return words(
        `event.dropped ${entry.eventId ?? "(no id)"}${
          entry.type !== undefined ? ` ${entry.type}` : ""
        } ${entry.reason}${entry.via !== undefined ? ` via ${entry.via}` : ""}`,
        "drop"
      )
    case "delivery":
      return words(
        `delivery ${entry.eventId}${entry.seq !== undefined ? ` #${entry.seq}` : ""} → ${entry.target}${
          attemptText(entry.attempt)
        } ${entry.outcome}${entry.status !== undefined ? ` ${entry.status}` : ""} ${ms(entry.latencyMs)}`,
        entry.outcome === "delivered" ? undefined : "failure"
      )
    case "dead-letter":
      return words(
        `dead-letter ${entry.eventId} → ${entry.target} after ${entry.attempts} attempts: ${entry.reason}`,
        "failure"
      )
    case "replayed":
      return words(`replayed ${entry.eventId} → ${entry.target}`)
    case "ended":
      return words(`ended ${entry.reason} ${triggerText(entry.trigger)}`)
  }
}

const ansi = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`
const paint = {
  dim: ansi(2),
  bold: ansi(1),
  red: ansi(31),
  yellow: ansi(33),
  lane: { provider: ansi(35), gateway: ansi(36), "hbf-bot": ansi(34) } satisfies Record<Lane, (text: string) => string>
}

const LANE_WIDTH = Math.max(...LANES.map((lane) => lane.length))
const GAP_WIDTH = 8

/** HH:MM:SS.mmm in UTC. */
const timeOfDay = (at: number) => new Date(at).toISOString().slice(11, 23)

/** The timeline as the terminal shows it: a header line, then one line per entry, oldest first. */
export const renderTimeline = (timeline: SessionTimeline, options: { readonly color: boolean }): string => {
  const style = (painter: (text: string) => string, text: string) => (options.color ? painter(text) : text)
  const { entries, sessionId } = timeline
  const day = entries.length > 0 ? ` (${new Date(entries[0]!.at).toISOString().slice(0, 10)}, UTC)` : ""
  const header = style(
    paint.bold,
    `Timeline of session ${printable(sessionId)}: ${
      entries.length === 0 ? "no entries yet" : `${entries.length} ${entries.length === 1 ? "entry" : "entries"}`
    }${day}`
  )
  const lines = entries.map((entry, i) => {
    const gap = i === 0 ? 0 : entry.at - entries[i - 1]!.at
    const lane = laneOf(entry)
    const { trouble, ...said } = describe(entry)
    // The script's own words carry no controls: escaping the line escapes every field in it.
    const text = printable(said.text)
    return [
      style(paint.dim, timeOfDay(entry.at)),
      (gap >= NOTABLE_GAP_MS ? gapText(gap) : "").padStart(GAP_WIDTH),
      style(paint.lane[lane], lane.padEnd(LANE_WIDTH)),
      trouble === undefined ? text : style(trouble === "failure" ? paint.red : paint.yellow, text)
    ].join("  ")
  })
  return [header, ...lines].join("\n")
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const USAGE = "usage: npm run timeline -- <sessionId|subHandle> [--tenant <tenantId>]"

export interface TimelineIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly color: boolean
}

/** Runs the command; the exit code: 0 printed, 1 the gateway refused or could not be asked, 2 a wrong invocation. */
export const main = async (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  io: TimelineIo
): Promise<number> => {
  const tenantAt = args.indexOf("--tenant")
  const tenantId = tenantAt >= 0 ? args[tenantAt + 1] : undefined
  const positional = tenantAt < 0 ? args : args.filter((_, i) => i !== tenantAt && i !== tenantAt + 1)
  const target = positional[0]
  if (target === undefined || positional.length > 1 || (tenantAt >= 0 && tenantId === undefined)) {
    io.err(USAGE)
    return 2
  }
  const token = env["LCG_ADMIN_TOKEN"]
  if (token === undefined || token === "") {
    io.err("LCG_ADMIN_TOKEN is not set: export a gateway token with scope admin (the sandbox prints one)")
    return 2
  }
  const base = (env["LCG_URL"] ?? "http://127.0.0.1:3000").replace(/\/+$/, "")
  const path = SESSION_ID.test(target)
    ? `/admin/sessions/${target}/timeline`
    : `/admin/subscribers/${encodeURIComponent(target)}/timeline${
      tenantId !== undefined ? `?tenantId=${encodeURIComponent(tenantId)}` : ""
    }`
  let response: Response
  try {
    response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
  } catch (error) {
    io.err(
      `cannot reach the gateway at ${printable(base)}: ${
        printable(String(error instanceof Error ? (error.cause ?? error.message) : error))
      }`
    )
    return 1
  }
  const body: unknown = await response.json().catch(() => undefined)
  if (!response.ok) {
    const said = typeof body === "object" && body !== null && "message" in body ? String(body.message) : undefined
    io.err(`${response.status}: ${printable(said ?? response.statusText)}`)
    return 1
  }
  const timeline = Schema.decodeUnknownEither(SessionTimeline)(body)
  if (Either.isLeft(timeline)) {
    io.err(`the gateway answered a timeline this script cannot read (an older or newer version?)`)
    return 1
  }
  io.out(renderTimeline(timeline.right, { color: io.color }))
  return 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const color = process.stdout.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""
  main(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    color
  }).then((code) => {
    process.exitCode = code
  })
}
