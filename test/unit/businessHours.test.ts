import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { BusinessHours, type BusinessHoursStatus, evaluateBusinessHours } from "../../src/domain/businessHours.js"
import { describeIssuesInline } from "../../src/domain/schemaIssues.js"

const decode = Schema.decodeUnknownSync(BusinessHours)
const decodeEither = Schema.decodeUnknownEither(BusinessHours, { errors: "all" })

/** The decode error as a tenant's config failure is told (by path, never by value), or fails the test when decoding succeeds. */
const decodeError = (input: unknown): string => {
  const result = decodeEither(input)
  if (Either.isRight(result)) throw new Error(`expected a decode failure for ${JSON.stringify(input)}`)
  return describeIssuesInline(result.left)
}

/** The status with instants as ISO strings, absent ones left out, so it compares exactly. */
const summary = (status: BusinessHoursStatus) => ({
  timezone: status.timezone,
  openNow: status.openNow,
  ...(status.nextOpenAt !== undefined ? { nextOpenAt: status.nextOpenAt.toISOString() } : {}),
  ...(status.nextCloseAt !== undefined ? { nextCloseAt: status.nextCloseAt.toISOString() } : {})
})

const evaluate = (hours: unknown, now: string, fallbackTimezone?: string) =>
  summary(evaluateBusinessHours(decode(hours), fallbackTimezone, new Date(now)))

const everyDay = (open: string, close: string) =>
  ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => ({ day, open, close }))

const weekdays = (open: string, close: string) =>
  ["mon", "tue", "wed", "thu", "fri"].map((day) => ({ day, open, close }))

describe("evaluateBusinessHours", () => {
  // Europe/Athens is UTC+2 in winter, UTC+3 in summer.
  const athensOffice = { timezone: "Europe/Athens", weekly: weekdays("09:00", "17:00") }

  describe("weekly hours", () => {
    it("is open on a weekday morning, closing at 17:00 and reopening the next morning", () => {
      // Tuesday 2026-01-13 10:00 local
      expect(evaluate(athensOffice, "2026-01-13T08:00:00Z")).toStrictEqual({
        timezone: "Europe/Athens",
        openNow: true,
        nextCloseAt: "2026-01-13T15:00:00.000Z",
        nextOpenAt: "2026-01-14T07:00:00.000Z"
      })
    })

    it("is closed on Friday evening until Monday 09:00", () => {
      // Friday 2026-01-16 18:00 local
      expect(evaluate(athensOffice, "2026-01-16T16:00:00Z")).toStrictEqual({
        timezone: "Europe/Athens",
        openNow: false,
        nextOpenAt: "2026-01-19T07:00:00.000Z",
        nextCloseAt: "2026-01-19T15:00:00.000Z"
      })
    })

    it("treats the opening instant as open and the closing instant as closed", () => {
      expect(evaluate(athensOffice, "2026-01-13T07:00:00Z").openNow).toBe(true)
      expect(evaluate(athensOffice, "2026-01-13T15:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-01-14T07:00:00.000Z"
      })
    })

    it("handles several ranges a day (a lunch break)", () => {
      const hours = {
        timezone: "Europe/Athens",
        weekly: [
          { day: "tue", open: "09:00", close: "12:00" },
          { day: "tue", open: "13:00", close: "17:00" }
        ]
      }
      // Tuesday 2026-01-13 12:30 local
      expect(evaluate(hours, "2026-01-13T10:30:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-01-13T11:00:00.000Z",
        nextCloseAt: "2026-01-13T15:00:00.000Z"
      })
      // 11:00 local: open until lunch, back at 13:00
      expect(evaluate(hours, "2026-01-13T09:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-01-13T10:00:00.000Z",
        nextOpenAt: "2026-01-13T11:00:00.000Z"
      })
    })

    it("merges a 24:00 close with the next day's 00:00 open into one interval", () => {
      const hours = {
        timezone: "Europe/Athens",
        weekly: [
          { day: "mon", open: "09:00", close: "24:00" },
          { day: "tue", open: "00:00", close: "09:00" }
        ]
      }
      // Monday 2026-01-12 20:00 local
      expect(evaluate(hours, "2026-01-12T18:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-01-13T07:00:00.000Z",
        nextOpenAt: "2026-01-19T07:00:00.000Z"
      })
      // Monday 08:00 local: the upcoming opening runs until Tuesday 09:00
      expect(evaluate(hours, "2026-01-12T06:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-01-12T07:00:00.000Z",
        nextCloseAt: "2026-01-13T07:00:00.000Z"
      })
    })

    it("uses the fallback zone when the hours have none", () => {
      const hours = { weekly: weekdays("09:00", "17:00") }
      expect(evaluate(hours, "2026-01-13T08:00:00Z", "Europe/Athens")).toStrictEqual({
        timezone: "Europe/Athens",
        openNow: true,
        nextCloseAt: "2026-01-13T15:00:00.000Z",
        nextOpenAt: "2026-01-14T07:00:00.000Z"
      })
      expect(evaluate(hours, "2026-01-13T08:00:00Z")).toMatchObject({
        timezone: "UTC",
        openNow: false,
        nextOpenAt: "2026-01-13T09:00:00.000Z"
      })
    })

    it("falls back to UTC when the fallback zone is unknown", () => {
      const hours = { weekly: weekdays("09:00", "17:00") }
      expect(evaluate(hours, "2026-01-13T08:00:00Z", "Mars/Olympus")).toMatchObject({
        timezone: "UTC",
        openNow: false,
        nextOpenAt: "2026-01-13T09:00:00.000Z"
      })
    })
  })

  describe("overnight ranges", () => {
    const fridayNight = { timezone: "Europe/Athens", weekly: [{ day: "fri", open: "22:00", close: "02:00" }] }

    it("is still open at 01:00 the next day", () => {
      // Saturday 2026-01-17 01:00 local
      expect(evaluate(fridayNight, "2026-01-16T23:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-01-17T00:00:00.000Z",
        nextOpenAt: "2026-01-23T20:00:00.000Z"
      })
    })

    it("is closed at 03:00 the next day", () => {
      expect(evaluate(fridayNight, "2026-01-17T01:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-01-23T20:00:00.000Z",
        nextCloseAt: "2026-01-24T00:00:00.000Z"
      })
    })

    it("keeps running into a date whose exception closes it", () => {
      const hours = {
        timezone: "Europe/Athens",
        weekly: [{ day: "thu", open: "22:00", close: "02:00" }],
        exceptions: [{ date: "2026-12-25", closed: true }]
      }
      // Friday 2026-12-25 01:00 local, inside Thursday's range
      expect(evaluate(hours, "2026-12-24T23:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-12-25T00:00:00.000Z",
        nextOpenAt: "2026-12-31T20:00:00.000Z"
      })
    })

    it("keeps running across a DST change (New York fall back)", () => {
      const hours = { timezone: "America/New_York", weekly: [{ day: "sat", open: "22:00", close: "02:00" }] }
      // Saturday 2026-10-31 22:00 EDT (UTC-4) to Sunday 02:00 EST (UTC-5): five hours
      expect(evaluate(hours, "2026-10-31T12:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-11-01T02:00:00.000Z",
        nextCloseAt: "2026-11-01T07:00:00.000Z"
      })
    })
  })

  describe("exceptions", () => {
    const christmas = {
      ...athensOffice,
      exceptions: [
        { date: "2026-12-24", open: "09:00", close: "13:00" },
        { date: "2026-12-25", closed: true }
      ]
    }

    it("shortens a date", () => {
      // Thursday 2026-12-24 10:00 local
      expect(evaluate(christmas, "2026-12-24T08:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-12-24T11:00:00.000Z",
        nextOpenAt: "2026-12-28T07:00:00.000Z"
      })
    })

    it("skips a closed date when looking for the next opening", () => {
      // Thursday 2026-12-24 14:00 local: Friday the 25th is closed, then the weekend
      expect(evaluate(christmas, "2026-12-24T12:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-12-28T07:00:00.000Z",
        nextCloseAt: "2026-12-28T15:00:00.000Z"
      })
    })

    it("opens a date the weekly schedule keeps closed", () => {
      const hours = { ...athensOffice, exceptions: [{ date: "2026-01-17", open: "10:00", close: "14:00" }] }
      // Friday 2026-01-16 18:00 local: next is the special Saturday
      expect(evaluate(hours, "2026-01-16T16:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-01-17T08:00:00.000Z",
        nextCloseAt: "2026-01-17T12:00:00.000Z"
      })
    })

    it("looks beyond the first two weeks past a long run of closed dates", () => {
      // Mondays only; the next 30 Mondays from 2026-01-05 are closed.
      const closedMondays = Array.from({ length: 30 }, (_, i) => ({
        date: new Date(Date.UTC(2026, 0, 5 + 7 * i)).toISOString().slice(0, 10),
        closed: true
      }))
      const hours = {
        timezone: "UTC",
        weekly: [{ day: "mon", open: "09:00", close: "17:00" }],
        exceptions: closedMondays
      }
      expect(evaluate(hours, "2026-01-01T12:00:00Z")).toStrictEqual({
        timezone: "UTC",
        openNow: false,
        nextOpenAt: "2026-08-03T09:00:00.000Z",
        nextCloseAt: "2026-08-03T17:00:00.000Z"
      })
    })

    it("looks beyond the first two weeks for the reopening after closing", () => {
      const closed = ["2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02"].map((date) => ({ date, closed: true }))
      const hours = { timezone: "UTC", weekly: [{ day: "mon", open: "09:00", close: "17:00" }], exceptions: closed }
      // Monday 2026-01-05 10:00, the last open Monday for a month
      expect(evaluate(hours, "2026-01-05T10:00:00Z")).toStrictEqual({
        timezone: "UTC",
        openNow: true,
        nextCloseAt: "2026-01-05T17:00:00.000Z",
        nextOpenAt: "2026-02-09T09:00:00.000Z"
      })
    })
  })

  describe("DST", () => {
    const athensDaily = { timezone: "Europe/Athens", weekly: everyDay("09:00", "17:00") }

    it("Europe/Athens spring forward: closes at UTC+2, reopens at UTC+3", () => {
      // Saturday 2026-03-28 12:00 local (UTC+2); on Sunday 29 03:00 jumps to 04:00 (UTC+3)
      expect(evaluate(athensDaily, "2026-03-28T10:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-03-28T15:00:00.000Z",
        nextOpenAt: "2026-03-29T06:00:00.000Z"
      })
    })

    it("Europe/Athens spring forward: a range starting in the gap opens at 04:00 local", () => {
      const hours = { timezone: "Europe/Athens", weekly: [{ day: "sun", open: "03:30", close: "05:00" }] }
      // Saturday 2026-03-28 20:00 local
      expect(evaluate(hours, "2026-03-28T18:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-03-29T01:00:00.000Z", // 04:00 UTC+3
        nextCloseAt: "2026-03-29T02:00:00.000Z" // 05:00 UTC+3
      })
    })

    it("Europe/Athens spring forward: a range wholly inside the gap is skipped", () => {
      const hours = {
        timezone: "Europe/Athens",
        weekly: [{ day: "sun", open: "12:00", close: "13:00" }],
        exceptions: [{ date: "2026-03-29", open: "03:00", close: "03:59" }]
      }
      expect(evaluate(hours, "2026-03-28T18:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-04-05T09:00:00.000Z"
      })
    })

    it("Europe/Athens fall back: closes at UTC+3, reopens at UTC+2", () => {
      // Saturday 2026-10-24 12:00 local (UTC+3); on Sunday 25 04:00 goes back to 03:00 (UTC+2)
      expect(evaluate(athensDaily, "2026-10-24T09:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-10-24T14:00:00.000Z",
        nextOpenAt: "2026-10-25T07:00:00.000Z"
      })
    })

    it("Europe/Athens fall back: a range over the change lasts an hour longer", () => {
      const hours = { timezone: "Europe/Athens", weekly: [{ day: "sun", open: "00:00", close: "06:00" }] }
      const status = evaluateBusinessHours(decode(hours), undefined, new Date("2026-10-24T19:00:00Z"))
      expect(summary(status)).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-10-24T21:00:00.000Z", // 00:00 UTC+3
        nextCloseAt: "2026-10-25T04:00:00.000Z" // 06:00 UTC+2
      })
      expect(status.nextCloseAt!.getTime() - status.nextOpenAt!.getTime()).toBe(7 * 3_600_000)
    })

    it("Europe/Athens fall back: an ambiguous opening time takes the earlier instant", () => {
      const hours = { timezone: "Europe/Athens", weekly: [{ day: "sun", open: "03:30", close: "05:00" }] }
      expect(evaluate(hours, "2026-10-24T19:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-10-25T00:30:00.000Z", // the first 03:30, UTC+3
        nextCloseAt: "2026-10-25T03:00:00.000Z" // 05:00 UTC+2
      })
    })

    const newYorkDaily = { timezone: "America/New_York", weekly: everyDay("09:00", "17:00") }

    it("America/New_York spring forward: closes at UTC-5, reopens at UTC-4", () => {
      // Saturday 2026-03-07 12:00 EST; on Sunday 8 02:00 jumps to 03:00 EDT
      expect(evaluate(newYorkDaily, "2026-03-07T17:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-03-07T22:00:00.000Z",
        nextOpenAt: "2026-03-08T13:00:00.000Z"
      })
    })

    it("America/New_York spring forward: a range starting in the gap opens at 03:00 local", () => {
      const hours = { timezone: "America/New_York", weekly: [{ day: "sun", open: "02:30", close: "04:00" }] }
      expect(evaluate(hours, "2026-03-07T17:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-03-08T07:00:00.000Z", // 03:00 EDT
        nextCloseAt: "2026-03-08T08:00:00.000Z" // 04:00 EDT
      })
    })

    it("America/New_York fall back: closes at UTC-4, reopens at UTC-5", () => {
      // Saturday 2026-10-31 12:00 EDT; on Sunday 1 02:00 goes back to 01:00 EST
      expect(evaluate(newYorkDaily, "2026-10-31T16:00:00Z")).toMatchObject({
        openNow: true,
        nextCloseAt: "2026-10-31T21:00:00.000Z",
        nextOpenAt: "2026-11-01T14:00:00.000Z"
      })
    })

    it("America/New_York fall back: an ambiguous opening time takes the earlier instant", () => {
      const hours = { timezone: "America/New_York", weekly: [{ day: "sun", open: "01:30", close: "03:00" }] }
      expect(evaluate(hours, "2026-10-31T16:00:00Z")).toMatchObject({
        openNow: false,
        nextOpenAt: "2026-11-01T05:30:00.000Z", // the first 01:30, EDT
        nextCloseAt: "2026-11-01T08:00:00.000Z" // 03:00 EST
      })
    })
  })

  describe("degenerate schedules", () => {
    it("is always open without hours, in the fallback zone", () => {
      expect(evaluateBusinessHours(undefined, "Europe/Athens", new Date("2026-01-13T08:00:00Z"))).toStrictEqual({
        timezone: "Europe/Athens",
        openNow: true
      })
      expect(evaluateBusinessHours(undefined, undefined, new Date("2026-01-13T08:00:00Z"))).toStrictEqual({
        timezone: "UTC",
        openNow: true
      })
    })

    it("is closed with nothing next when the weekly schedule is empty", () => {
      expect(evaluateBusinessHours(decode({ weekly: [] }), "Europe/Athens", new Date("2026-01-13T08:00:00Z")))
        .toStrictEqual(
          { timezone: "Europe/Athens", openNow: false }
        )
    })

    it("has no next close when open around the clock", () => {
      const hours = { timezone: "Europe/Athens", weekly: everyDay("00:00", "24:00") }
      expect(evaluate(hours, "2026-01-13T08:00:00Z")).toStrictEqual({ timezone: "Europe/Athens", openNow: true })
    })
  })
})

describe("BusinessHours schema", () => {
  const valid = {
    timezone: "Europe/Athens",
    weekly: [{ day: "mon", open: "09:00", close: "24:00" }],
    exceptions: [
      { date: "2026-12-24", open: "09:00", close: "13:00" },
      { date: "2026-12-25", closed: true }
    ]
  }

  it("accepts a valid schedule and ignores unknown fields", () => {
    const decoded = decode({ ...valid, note: "x", weekly: [{ ...valid.weekly[0], label: "late" }] })
    expect(decoded).toStrictEqual(valid)
  })

  it("rejects an hour past 23, by path and without the value", () => {
    const error = decodeError({ weekly: [{ day: "mon", open: "25:00", close: "26:00" }] })
    expect(error).toBe(
      "weekly.0.open: expected a time \"HH:MM\" between 00:00 and 23:59; weekly.0.close: expected a time \"HH:MM\" between 00:00 and 24:00"
    )
    expect(error).not.toContain("25:00")
  })

  it("rejects a time without a leading zero", () => {
    expect(decodeError({ weekly: [{ day: "mon", open: "9:00", close: "17:00" }] })).toBe(
      "weekly.0.open: expected a time \"HH:MM\" between 00:00 and 23:59"
    )
  })

  it("allows 24:00 only as a close", () => {
    expect(decodeError({ weekly: [{ day: "mon", open: "24:00", close: "24:00" }] })).toBe(
      "weekly.0.open: expected a time \"HH:MM\" between 00:00 and 23:59"
    )
  })

  it("rejects an unknown time zone", () => {
    expect(decodeError({ timezone: "Mars/Olympus", weekly: [] })).toBe(
      "timezone: expected an IANA time zone (\"Europe/Athens\")"
    )
  })

  it("rejects an exception with neither closed nor open/close", () => {
    const needs = "exceptions.0: an exception needs either \"closed\": true or both \"open\" and \"close\""
    expect(decodeError({ weekly: [], exceptions: [{ date: "2026-12-25" }] })).toBe(needs)
    expect(decodeError({ weekly: [], exceptions: [{ date: "2026-12-25", open: "09:00" }] })).toBe(needs)
  })

  it("rejects an impossible date", () => {
    expect(decodeError({ weekly: [], exceptions: [{ date: "2026-02-30", closed: true }] })).toBe(
      "exceptions.0.date: expected a real date \"YYYY-MM-DD\""
    )
  })
})
