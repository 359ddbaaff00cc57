/**
 * A session's timeline: what happened to it, as it happened (docs/ARCHITECTURE.md#session-timeline).
 * Ids, kinds, statuses and timings only: never a message's text or attachments, never a
 * tenant's configuration, never a secret.
 */
import { Either, type ParseResult, Schema } from "effect"
import { EndReason, ProviderAlias, SessionStatus } from "./model.js"

/** How a provider event reached the gateway. */
export const EventVia = Schema.Literal("webhook", "socket", "poll")
export type EventVia = typeof EventVia.Type

/** Why a provider event was not applied. */
export const DropReason = Schema.Literal("duplicate", "stale", "malformed", "out-of-order", "session-ended")
export type DropReason = typeof DropReason.Type

/** Where a delivery went (as DeliveryTarget in services/Outbox.ts). */
const Target = Schema.Literal("hbf-bot", "event-publisher")

/** What ended a session: a provider event, one of the gateway's timeouts, or a call to the gateway. */
export const EndTrigger = Schema.Union(
  Schema.Struct({ by: Schema.Literal("event"), eventId: Schema.String }),
  Schema.Struct({ by: Schema.Literal("timeout"), timeout: Schema.Literal("pending", "inactivity") }),
  Schema.Struct({ by: Schema.Literal("call"), operation: Schema.String })
).annotations({ identifier: "EndTrigger" })
export type EndTrigger = typeof EndTrigger.Type

/**
 * The kinds of entry, without their time. The stored form (encodeStoredEntry) lists a kind's
 * fields by position, in this key order, and stores hold entries for as long as their session:
 * a kind's fields are append-only. Add a field at the end of its kind, optional; never reorder,
 * insert, rename or remove one (entries already stored would be read into the wrong fields). `provider.call`'s `outcome` is `ok` (a 2xx),
 * `refused` (the provider answered with an error status) or `no-answer` (refused connection,
 * reset, timeout); `delivery`'s is `delivered` or `failed` (with the status hbf-bot or
 * event-publisher answered, when it answered).
 */
const kinds = {
  created: {
    kind: Schema.Literal("created"),
    provider: ProviderAlias,
    channel: Schema.optional(Schema.String),
    queue: Schema.optional(Schema.String)
  },
  state: { kind: Schema.Literal("state"), from: SessionStatus, to: SessionStatus },
  providerCall: {
    kind: Schema.Literal("provider.call"),
    operation: Schema.String,
    outcome: Schema.Literal("ok", "refused", "no-answer"),
    status: Schema.optional(Schema.Int),
    latencyMs: Schema.Number,
    attempt: Schema.Int
  },
  eventReceived: {
    kind: Schema.Literal("event.received"),
    eventId: Schema.String,
    type: Schema.String,
    via: EventVia
  },
  eventDropped: {
    kind: Schema.Literal("event.dropped"),
    /** The event's id; for an event the gateway could not read, the provider's id of it, when it has one. */
    eventId: Schema.optional(Schema.String),
    type: Schema.optional(Schema.String),
    reason: DropReason,
    via: Schema.optional(EventVia)
  },
  delivery: {
    kind: Schema.Literal("delivery"),
    eventId: Schema.String,
    seq: Schema.optional(Schema.Int),
    target: Target,
    attempt: Schema.Int,
    outcome: Schema.Literal("delivered", "failed"),
    status: Schema.optional(Schema.Int),
    latencyMs: Schema.Number
  },
  deadLetter: {
    kind: Schema.Literal("dead-letter"),
    eventId: Schema.String,
    target: Target,
    attempts: Schema.Int,
    reason: Schema.String
  },
  replayed: { kind: Schema.Literal("replayed"), eventId: Schema.String, target: Target },
  ended: { kind: Schema.Literal("ended"), reason: EndReason, trigger: EndTrigger }
} as const

const entryOf = <At extends Schema.Schema.Any>(at: At) =>
  Schema.Union(
    Schema.Struct({ at, ...kinds.created }),
    Schema.Struct({ at, ...kinds.state }),
    Schema.Struct({ at, ...kinds.providerCall }),
    Schema.Struct({ at, ...kinds.eventReceived }),
    Schema.Struct({ at, ...kinds.eventDropped }),
    Schema.Struct({ at, ...kinds.delivery }),
    Schema.Struct({ at, ...kinds.deadLetter }),
    Schema.Struct({ at, ...kinds.replayed }),
    Schema.Struct({ at, ...kinds.ended })
  )

/** An entry as recorded and stored: `at` in epoch milliseconds (a stored entry is a few dozen bytes). */
export const TimelineEntry = entryOf(Schema.Number)
export type TimelineEntry = typeof TimelineEntry.Type

/** An entry as the admin API shows it: `at` as an ISO time. */
const IsoTime = Schema.transform(Schema.String, Schema.Number, {
  strict: true,
  decode: (iso) => Date.parse(iso),
  encode: (millis) => new Date(millis).toISOString()
})
export const TimelineEntryView = entryOf(IsoTime).annotations({ identifier: "TimelineEntry" })

/** A distributive Omit, so that each kind keeps its own fields. */
type WithoutTime<E> = E extends unknown ? Omit<E, "at"> : never
/** An entry as a recorder is given it: the recorder stamps its time. */
export type TimelineEntryInput = WithoutTime<TimelineEntry>

/** `GET /admin/sessions/:sessionId/timeline`: the session's entries, oldest first. */
export const SessionTimeline = Schema.Struct({
  sessionId: Schema.String,
  entries: Schema.Array(TimelineEntryView)
}).annotations({ identifier: "SessionTimeline" })
export type SessionTimeline = typeof SessionTimeline.Type

// ---- the stored form ----

/** Each kind's fields after `kind`, in the order the stored form lists them. */
const storedFields = Object.fromEntries(
  Object.values(kinds).map((fields) => [fields.kind.literals[0], Object.keys(fields).filter((f) => f !== "kind")])
) as unknown as Record<TimelineEntry["kind"], ReadonlyArray<string>>

/**
 * An entry as a store keeps it: `[kind, at, ...its fields in storedFields' order]`, an absent
 * field `null`, trailing ones left out. Without the field names an entry is about half the
 * bytes (a delivery ~80 instead of ~150), and a session keeps up to LCG_TIMELINE_ENTRIES of them.
 */
export const encodeStoredEntry = (entry: TimelineEntry): string => {
  const record = entry as unknown as Record<string, unknown>
  const values: Array<unknown> = [entry.kind, entry.at]
  for (const field of storedFields[entry.kind]) values.push(record[field] ?? null)
  while (values[values.length - 1] === null) values.pop()
  return JSON.stringify(values)
}

const decodeEntry = Schema.decodeUnknownEither(TimelineEntry)
const decodeValues = Schema.decodeUnknownEither(
  Schema.parseJson(Schema.Tuple([Schema.String, Schema.Number], Schema.Unknown))
)

/** The entry `encodeStoredEntry` wrote, checked against TimelineEntry. */
export const decodeStoredEntry = (stored: string): Either.Either<TimelineEntry, ParseResult.ParseError> =>
  Either.flatMap(decodeValues(stored), ([kind, at, ...values]) => {
    const entry: Record<string, unknown> = { kind, at }
    const fields = Object.hasOwn(storedFields, kind) ? storedFields[kind as TimelineEntry["kind"]] : []
    fields.forEach((field, i) => {
      if (values[i] != null) entry[field] = values[i]
    })
    return decodeEntry(entry)
  })

/** Oldest first; entries of one time keep the order they were recorded in (Array.prototype.sort is stable). */
export const oldestFirst = (entries: ReadonlyArray<TimelineEntry>): ReadonlyArray<TimelineEntry> =>
  [...entries].sort((a, b) => a.at - b.at)
