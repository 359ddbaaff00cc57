/**
 * Business hours of a livechat integration: the schema tenants configure, and a pure
 * evaluation of "is it open now, and when does that change next", computed in the
 * schedule's own time zone so that DST transitions land on the right instants.
 */
import { DateTime, Option, Schema } from "effect"

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

const OPEN_TIME = /^([01]\d|2[0-3]):[0-5]\d$/
// "24:00" is only meaningful as a close: midnight at the end of the date.
const CLOSE_TIME = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/

// The messages name what is expected, never the value found: they reach answers and logs, and a
// tenant's configuration stays out of both (src/domain/schemaIssues.ts).

/** "HH:MM", 00:00..23:59. */
const OpenTime = Schema.String.pipe(
  Schema.pattern(OPEN_TIME, { message: () => "expected a time \"HH:MM\" between 00:00 and 23:59" })
).annotations({ identifier: "OpenTime" })

/** "HH:MM", 00:00..23:59, or "24:00" for the end of the day. */
const CloseTime = Schema.String.pipe(
  Schema.pattern(CLOSE_TIME, { message: () => "expected a time \"HH:MM\" between 00:00 and 24:00" })
).annotations({ identifier: "CloseTime" })

/** A real calendar date "YYYY-MM-DD" (2026-02-30 is rejected, not rolled over). */
const CalendarDate = Schema.String.pipe(
  Schema.filter((s) => ISO_DATE.test(s) && isoOfEpochDay(epochDayOfIso(s)) === s, {
    message: () => "expected a real date \"YYYY-MM-DD\""
  })
).annotations({ identifier: "CalendarDate" })

/** An IANA zone id that the runtime's Intl knows about. */
const TimeZoneId = Schema.String.pipe(
  Schema.filter((s) => Option.isSome(DateTime.zoneMakeNamed(s)), {
    message: () => "expected an IANA time zone (\"Europe/Athens\")"
  })
).annotations({ identifier: "TimeZoneId" })

const Weekday = Schema.Literal("mon", "tue", "wed", "thu", "fri", "sat", "sun")
type Weekday = typeof Weekday.Type

const WeeklyRange = Schema.Struct({ day: Weekday, open: OpenTime, close: CloseTime }).annotations({
  identifier: "WeeklyRange"
})

// Exact optionals: the fields are either present with a value or absent (as in JSON).
const DateException = Schema.Struct({
  date: CalendarDate,
  closed: Schema.optionalWith(Schema.Boolean, { exact: true }),
  open: Schema.optionalWith(OpenTime, { exact: true }),
  close: Schema.optionalWith(CloseTime, { exact: true })
}).pipe(
  Schema.filter((e) => e.closed === true || (e.open !== undefined && e.close !== undefined), {
    message: () => "an exception needs either \"closed\": true or both \"open\" and \"close\""
  })
).annotations({ identifier: "DateException" })

export const BusinessHours = Schema.Struct({
  timezone: Schema.optionalWith(TimeZoneId, { exact: true }),
  weekly: Schema.Array(WeeklyRange),
  exceptions: Schema.optionalWith(Schema.Array(DateException), { exact: true })
}).annotations({ identifier: "BusinessHours" })
export type BusinessHours = typeof BusinessHours.Type

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

export interface BusinessHoursStatus {
  readonly timezone: string
  readonly openNow: boolean
  readonly nextOpenAt?: Date
  readonly nextCloseAt?: Date
}

const MINUTE = 60_000
const DAY = 86_400_000
const MINUTES_PER_DAY = 1440
// Enough for any weekly schedule; the long horizon is only scanned when the short one has no next opening.
const INITIAL_HORIZON_DAYS = 14
const MAX_HORIZON_DAYS = 400

/** A local calendar date as whole days since 1970-01-01, so date arithmetic is integer arithmetic. */
type EpochDay = number

// Function declarations (hoisted) because CalendarDate above validates with them.

function epochDayOfIso(date: string): EpochDay {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY
}

function isoOfEpochDay(day: EpochDay): string {
  return new Date(day * DAY).toISOString().slice(0, 10)
}

// Indexed by Date#getUTCDay order (0 = Sunday); 1970-01-01 was a Thursday.
const WEEKDAYS: ReadonlyArray<Weekday> = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
const weekdayOf = (day: EpochDay): Weekday => WEEKDAYS[(((day + 4) % 7) + 7) % 7]!

/** Minutes since local midnight; "24:00" is 1440. */
const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** An opening range in minutes from the local midnight starting its date; `close` > 1440 runs into the next date. */
interface LocalRange {
  readonly open: number
  readonly close: number
}

const toLocalRange = (open: string, close: string): LocalRange => {
  const from = minutesOf(open)
  const to = minutesOf(close)
  // close <= open is an overnight range, ending on the next date.
  return { open: from, close: to <= from ? to + MINUTES_PER_DAY : to }
}

/** The configuration indexed for per-date lookups. */
interface Schedule {
  readonly weekly: ReadonlyMap<Weekday, ReadonlyArray<LocalRange>>
  readonly exceptions: ReadonlyMap<string, ReadonlyArray<LocalRange>>
}

const scheduleOf = (hours: BusinessHours): Schedule => {
  const weekly = new Map<Weekday, Array<LocalRange>>()
  for (const entry of hours.weekly) {
    weekly.set(entry.day, [...(weekly.get(entry.day) ?? []), toLocalRange(entry.open, entry.close)])
  }
  const exceptions = new Map<string, ReadonlyArray<LocalRange>>()
  for (const e of hours.exceptions ?? []) {
    const closed = e.closed === true || e.open === undefined || e.close === undefined
    exceptions.set(e.date, closed ? [] : [toLocalRange(e.open, e.close)])
  }
  return { weekly, exceptions }
}

/** The ranges starting on a date: an exception replaces the weekday's entries entirely. */
const rangesStartingOn = (schedule: Schedule, day: EpochDay): ReadonlyArray<LocalRange> =>
  schedule.exceptions.get(isoOfEpochDay(day)) ?? schedule.weekly.get(weekdayOf(day)) ?? []

const offsetAt = (zone: DateTime.TimeZone, instant: number): number =>
  DateTime.zonedOffset(DateTime.unsafeMakeZoned(instant, { timeZone: zone }))

/** The first instant in (before, after] whose offset is `after`'s, i.e. where a DST gap ends. */
const endOfGap = (zone: DateTime.TimeZone, before: number, after: number): number => {
  const target = offsetAt(zone, after)
  let lo = before
  let hi = after
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(zone, mid) === target) hi = mid
    else lo = mid
  }
  return hi
}

/**
 * The instant (epoch millis) at which the wall clock in `zone` reads `local` (a wall time written as
 * if it were UTC millis). A repeated (fall-back) wall time takes the earlier instant; a wall time
 * skipped by a spring-forward gap takes the first instant after the gap.
 */
const localToInstant = (zone: DateTime.TimeZone, local: number): number => {
  // "compatible" picks the earlier instant for repeated times, but moves a gap time forward by the
  // gap's length (03:30 -> 04:30 when 03:00 jumps to 04:00), so those are clamped to the gap's end.
  const zoned = DateTime.unsafeMakeZoned(local, {
    timeZone: zone,
    adjustForTimeZone: true,
    disambiguation: "compatible"
  })
  const instant = DateTime.toEpochMillis(zoned)
  const shift = instant + DateTime.zonedOffset(zoned) - local
  return shift === 0 ? instant : endOfGap(zone, instant - shift, instant)
}

const localDateOf = (zone: DateTime.TimeZone, now: Date): EpochDay => {
  const parts = DateTime.toParts(DateTime.unsafeMakeZoned(now, { timeZone: zone }))
  return Date.UTC(parts.year, parts.month - 1, parts.day) / DAY
}

/** A half-open span of instants [start, end), in epoch millis. */
interface Interval {
  readonly start: number
  readonly end: number
}

/** Sorts and joins overlapping or touching intervals, so 09:00-24:00 + 00:00-09:00 is one opening. */
const mergeIntervals = (intervals: ReadonlyArray<Interval>): ReadonlyArray<Interval> => {
  const merged: Array<Interval> = []
  for (const next of [...intervals].sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1)
    if (last !== undefined && next.start <= last.end) {
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, next.end) }
    } else {
      merged.push(next)
    }
  }
  return merged
}

const openIntervals = (
  schedule: Schedule,
  zone: DateTime.TimeZone,
  firstDay: EpochDay,
  lastDay: EpochDay
): ReadonlyArray<Interval> => {
  const intervals: Array<Interval> = []
  for (let day = firstDay; day <= lastDay; day++) {
    for (const range of rangesStartingOn(schedule, day)) {
      const start = localToInstant(zone, day * DAY + range.open * MINUTE)
      const end = localToInstant(zone, day * DAY + range.close * MINUTE)
      // A range lying wholly inside a spring-forward gap never happens.
      if (end > start) intervals.push({ start, end })
    }
  }
  return mergeIntervals(intervals)
}

interface LookAhead {
  readonly status: Omit<BusinessHoursStatus, "timezone">
  /** Whether a longer horizon might find the next opening this one missed. */
  readonly scanFurther: boolean
}

const lookAhead = (
  schedule: Schedule,
  zone: DateTime.TimeZone,
  today: EpochDay,
  now: number,
  horizonDays: number
): LookAhead => {
  const lastDay = today + horizonDays
  // Yesterday is included because one of its overnight ranges may still be running.
  const intervals = openIntervals(schedule, zone, today - 1, lastDay)
  // Ranges of later dates start at or after this instant, so only ends before it are final.
  const horizonEnd = localToInstant(zone, (lastDay + 1) * DAY)
  const current = intervals.find((i) => i.start <= now && now < i.end)
  const upcoming = intervals.find((i) => i.start > (current?.end ?? now))
  const closing = current ?? upcoming
  const closeAt = closing !== undefined && closing.end < horizonEnd ? closing.end : undefined
  return {
    status: {
      openNow: current !== undefined,
      ...(upcoming !== undefined ? { nextOpenAt: new Date(upcoming.start) } : {}),
      ...(closeAt !== undefined ? { nextCloseAt: new Date(closeAt) } : {})
    },
    // An opening outlasting the horizon (e.g. 24/7 hours) is reported without a close rather than
    // scanning a year of dates on every call.
    scanFurther: upcoming === undefined && (current === undefined || current.end < horizonEnd)
  }
}

/** The configured zone, or UTC when it is unknown (the tenant-level fallback is not validated upstream). */
const resolveZone = (id: string): { readonly id: string; readonly zone: DateTime.TimeZone } =>
  Option.match(DateTime.zoneMakeNamed(id), {
    onNone: () => ({ id: "UTC", zone: DateTime.zoneUnsafeMakeNamed("UTC") }),
    onSome: (zone) => ({ id, zone })
  })

/**
 * Whether the business is open at `now` and the next opening / closing instants, in the zone
 * `hours.timezone ?? fallbackTimezone ?? "UTC"`. No hours configured means always open.
 * Looks 14 days ahead, or up to 400 when that finds no next opening; instants beyond the
 * scanned horizon are left out. Pure: `now` is the only clock.
 */
export const evaluateBusinessHours = (
  hours: BusinessHours | undefined,
  fallbackTimezone: string | undefined,
  now: Date
): BusinessHoursStatus => {
  if (hours === undefined) return { timezone: fallbackTimezone ?? "UTC", openNow: true }
  const { id, zone } = resolveZone(hours.timezone ?? fallbackTimezone ?? "UTC")
  const schedule = scheduleOf(hours)
  const today = localDateOf(zone, now)
  const short = lookAhead(schedule, zone, today, now.getTime(), INITIAL_HORIZON_DAYS)
  const found = short.scanFurther ? lookAhead(schedule, zone, today, now.getTime(), MAX_HORIZON_DAYS) : short
  return { timezone: id, ...found.status }
}
