/**
 * The timeline recorder (docs/ARCHITECTURE.md#session-timeline): entries are pushed onto an
 * in-process buffer, and written to the TimelineStore in one batch every FLUSH_INTERVAL, so
 * that the forward and ingest paths never wait for a timeline write. A batch the store does
 * not take is kept for the next try, up to MAX_BUFFERED entries; beyond that the oldest go
 * (a timeline is for reading what happened, never worth holding the gateway up). An instance
 * that crashes loses at most its last FLUSH_INTERVAL of entries. The flushing fiber sleeps only
 * while something is buffered: an idle gateway sets no timer (nor does a test's TestClock wake it).
 */
import { Duration, Effect, Layer } from "effect"
import { oldestFirst, type TimelineEntry } from "../domain/timeline.js"
import { currentTimelineScope, Timeline, type TimelineService, TimelineStore } from "../services/Timeline.js"

export const FLUSH_INTERVAL = Duration.millis(25)
export const MAX_BUFFERED = 50_000

export const makeTimelineRecorder = Effect.gen(function*() {
  const store = yield* TimelineStore
  let buffered = new Map<string, Array<TimelineEntry>>()
  let count = 0
  /** One flush at a time, so that a session's entries reach the store in the order they were recorded. */
  const flushing = yield* Effect.makeSemaphore(1)
  /** Open while entries wait for the next flush. */
  const due = yield* Effect.makeLatch(false)

  const push = (sessionId: string, entry: TimelineEntry) => {
    const entries = buffered.get(sessionId)
    if (entries === undefined) buffered.set(sessionId, [entry])
    else entries.push(entry)
    count++
    due.unsafeOpen()
  }

  /** Puts a batch the store did not take back before what was recorded since, dropping the oldest sessions' beyond MAX_BUFFERED. */
  const putBack = (batch: Map<string, Array<TimelineEntry>>) => {
    const since = buffered
    buffered = batch
    for (const [sessionId, entries] of since) {
      const earlier = buffered.get(sessionId)
      if (earlier === undefined) buffered.set(sessionId, entries)
      else for (const entry of entries) earlier.push(entry)
    }
    let dropped = 0
    for (const [sessionId, entries] of buffered) {
      if (count <= MAX_BUFFERED) break
      buffered.delete(sessionId)
      count -= entries.length
      dropped += entries.length
    }
    return dropped
  }

  const flush: Effect.Effect<void> = flushing.withPermits(1)(
    Effect.suspend(() => {
      if (buffered.size === 0) return Effect.void
      const batch = buffered
      buffered = new Map()
      const appends = Array.from(batch, ([sessionId, entries]) => ({ sessionId, entries }))
      return Effect.matchEffect(store.append(appends), {
        onSuccess: () => Effect.sync(() => void (count -= appends.reduce((n, a) => n + a.entries.length, 0))),
        onFailure: (e) => {
          const dropped = putBack(batch)
          due.unsafeOpen()
          return Effect.logWarning("timeline entries not written; kept for the next try", {
            reason: e.message,
            buffered: count,
            dropped
          })
        }
      })
    })
  )

  // Entries recorded after the latch closes open it again for the next round.
  yield* due.await.pipe(
    Effect.zipRight(Effect.sleep(FLUSH_INTERVAL)),
    Effect.zipRight(due.close),
    Effect.zipRight(flush),
    Effect.forever,
    Effect.interruptible,
    Effect.forkScoped
  )
  // On shutdown, what is still buffered is written before the store's connection closes.
  yield* Effect.addFinalizer(() => flush)

  const record: TimelineService["record"] = (sessionId, entry) =>
    Effect.clockWith((clock) =>
      Effect.sync(() => push(sessionId, { ...entry, at: clock.unsafeCurrentTimeMillis() } as TimelineEntry))
    )

  const service: TimelineService = {
    record,
    read: (sessionId) => Effect.zipRight(flush, Effect.map(store.read(sessionId), oldestFirst)),
    within: (sessionId) => (effect) =>
      Effect.locally(effect, currentTimelineScope, { sessionId, record: (entry) => record(sessionId, entry) })
  }
  return service
})

export const TimelineRecorderLive = Layer.scoped(Timeline, makeTimelineRecorder)
