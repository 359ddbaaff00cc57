/**
 * The timeline recorder (docs/ARCHITECTURE.md#session-timeline): entries are pushed onto an
 * in-process buffer, and written to the TimelineStore in one batch every FLUSH_INTERVAL, so
 * that the forward and ingest paths never wait for a timeline write. Entries of the sessions
 * the store did not write are kept for the next try, up to MAX_BUFFERED entries; beyond that
 * the oldest go (a timeline is for reading what happened, never worth holding the gateway up).
 * While writes fail, the tries back off from FLUSH_INTERVAL to MAX_RETRY_INTERVAL, so that an
 * outage is not met with a write (and a log line) every FLUSH_INTERVAL: one warning when writes
 * start failing, one line when they work again. An instance that crashes loses at most its last
 * FLUSH_INTERVAL of entries. The flushing fiber sleeps only while something is buffered: an
 * idle gateway sets no timer (nor does a test's TestClock wake it).
 */
import { Duration, Effect, Layer } from "effect"
import { oldestFirst, type TimelineEntry } from "../domain/timeline.js"
import { currentTimelineScope, Timeline, type TimelineService, TimelineStore } from "../services/Timeline.js"

export const FLUSH_INTERVAL = Duration.millis(25)
/** The longest wait between tries while the store refuses writes. */
export const MAX_RETRY_INTERVAL = Duration.seconds(5)
export const MAX_BUFFERED = 50_000

export const makeTimelineRecorder = Effect.gen(function*() {
  const store = yield* TimelineStore
  // Read once: a record is a push at no fiber op (the clock is the runtime's, a test's TestClock too).
  const clock = yield* Effect.clock
  let buffered = new Map<string, Array<TimelineEntry>>()
  let count = 0
  /** The wait before the next flush: FLUSH_INTERVAL, doubled after each failed flush up to MAX_RETRY_INTERVAL. */
  let interval = FLUSH_INTERVAL
  /** Whether the last flush failed, and how many entries were dropped since the last write. */
  let failing = false
  let dropped = 0
  /** One flush at a time, so that a session's entries reach the store in the order they were recorded. */
  const flushing = yield* Effect.makeSemaphore(1)
  /** Open while entries wait for the next flush. */
  const due = yield* Effect.makeLatch(false)

  /** Drops the oldest sessions' entries beyond MAX_BUFFERED. */
  const bound = () => {
    for (const [sessionId, entries] of buffered) {
      if (count <= MAX_BUFFERED) break
      buffered.delete(sessionId)
      count -= entries.length
      dropped += entries.length
    }
  }

  const push = (sessionId: string, entry: TimelineEntry) => {
    const entries = buffered.get(sessionId)
    if (entries === undefined) buffered.set(sessionId, [entry])
    else entries.push(entry)
    count++
    if (count > MAX_BUFFERED) bound()
    due.unsafeOpen()
  }

  /** Puts the entries of the sessions the store did not write back before what was recorded since. */
  const putBack = (batch: Map<string, Array<TimelineEntry>>, unwritten: ReadonlyArray<string>) => {
    const since = buffered
    buffered = new Map()
    for (const sessionId of unwritten) {
      const entries = batch.get(sessionId)
      if (entries !== undefined) buffered.set(sessionId, entries)
    }
    for (const [sessionId, entries] of since) {
      const earlier = buffered.get(sessionId)
      if (earlier === undefined) buffered.set(sessionId, entries)
      else for (const entry of entries) earlier.push(entry)
    }
    bound()
  }

  const sizeOf = (batch: Map<string, Array<TimelineEntry>>) => {
    let n = 0
    for (const entries of batch.values()) n += entries.length
    return n
  }

  const flush: Effect.Effect<void> = flushing.withPermits(1)(
    Effect.suspend(() => {
      if (buffered.size === 0) return Effect.void
      const batch = buffered
      buffered = new Map()
      count -= sizeOf(batch)
      return Effect.matchEffect(store.append(Array.from(batch, ([sessionId, entries]) => ({ sessionId, entries }))), {
        onSuccess: () =>
          Effect.suspend(() => {
            interval = FLUSH_INTERVAL
            const lost = dropped
            dropped = 0
            if (!failing) return Effect.void
            failing = false
            return Effect.logInfo("timeline entries written again", { dropped: lost })
          }),
        onFailure: (e) =>
          Effect.suspend(() => {
            count += e.unwritten.reduce((n, id) => n + (batch.get(id)?.length ?? 0), 0)
            putBack(batch, e.unwritten)
            due.unsafeOpen()
            interval = Duration.min(Duration.times(interval, 2), MAX_RETRY_INTERVAL)
            if (failing) return Effect.void
            failing = true
            return Effect.logWarning("timeline entries not written; kept for later tries, which back off", {
              reason: e.cause.message,
              buffered: count
            })
          })
      })
    })
  )

  // Entries recorded after the latch closes open it again for the next round.
  yield* due.await.pipe(
    Effect.zipRight(Effect.suspend(() => Effect.sleep(interval))),
    Effect.zipRight(due.close),
    Effect.zipRight(flush),
    Effect.forever,
    Effect.interruptible,
    Effect.forkScoped
  )
  // On shutdown, what is still buffered is written before the store's connection closes.
  yield* Effect.addFinalizer(() => flush)

  const unsafeRecord: TimelineService["unsafeRecord"] = (sessionId, entry) =>
    push(sessionId, { ...entry, at: clock.unsafeCurrentTimeMillis() } as TimelineEntry)
  const record: TimelineService["record"] = (sessionId, entry) => Effect.sync(() => unsafeRecord(sessionId, entry))

  const service: TimelineService = {
    record,
    unsafeRecord,
    read: (sessionId) => Effect.zipRight(flush, Effect.map(store.read(sessionId), oldestFirst)),
    within: (sessionId) => (effect) =>
      Effect.locally(effect, currentTimelineScope, { sessionId, record: (entry) => record(sessionId, entry) })
  }
  return service
})

export const TimelineRecorderLive = Layer.scoped(Timeline, makeTimelineRecorder)
