import { Context, Data, Effect, FiberRef } from "effect"
import type { TimelineEntry, TimelineEntryInput } from "../domain/timeline.js"
import type { StoreUnavailable } from "./errors.js"

/** Entries recorded for one session, appended together. */
export interface TimelineAppend {
  readonly sessionId: string
  readonly entries: ReadonlyArray<TimelineEntry>
}

/**
 * A batch the store took only in part: the sessions in `unwritten` got none of their entries,
 * the others all of theirs (so a retry sends only the former, and appends nothing twice).
 */
export class TimelineAppendFailed extends Data.TaggedError("TimelineAppendFailed")<{
  readonly cause: StoreUnavailable
  readonly unwritten: ReadonlyArray<string>
}> {}

/**
 * Where timelines are kept: per session, at most `LCG_TIMELINE_ENTRIES` (the first, and the
 * newest), forgotten with the session (docs/redis-keys.md).
 */
export interface TimelineStoreService {
  readonly append: (appends: ReadonlyArray<TimelineAppend>) => Effect.Effect<void, TimelineAppendFailed>
  /** The session's entries in the order they were appended (not yet sorted by time). */
  readonly read: (sessionId: string) => Effect.Effect<ReadonlyArray<TimelineEntry>, StoreUnavailable>
}

export class TimelineStore extends Context.Tag("hbf-lcg/TimelineStore")<TimelineStore, TimelineStoreService>() {}

/**
 * Records what happens to sessions (docs/ARCHITECTURE.md#session-timeline). `record` never
 * fails and never waits for the store: entries are written in batches in the background, so
 * the forward and ingest paths pay a push onto an array. `read` writes this instance's
 * pending entries first, then reads the session's whole timeline (every instance's), oldest first.
 */
export interface TimelineService {
  readonly record: (sessionId: string, entry: TimelineEntryInput) => Effect.Effect<void>
  /** `record` from a callback outside any fiber (an HTTP client's answer), at no fiber op. */
  readonly unsafeRecord: (sessionId: string, entry: TimelineEntryInput) => void
  readonly read: (sessionId: string) => Effect.Effect<ReadonlyArray<TimelineEntry>, StoreUnavailable>
  /** Runs `effect` in the session's timeline scope: the provider calls it makes are recorded in the session's timeline. */
  readonly within: (sessionId: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export class Timeline extends Context.Tag("hbf-lcg/Timeline")<Timeline, TimelineService>() {}

/**
 * The session a fiber works for, with where its entries go: set around a provider's calls for
 * a session (`Timeline.within`, by the provider registry: ProviderRegistryLive.ts), read by
 * the provider clients, which record each attempt (`provider.call`) without knowing the
 * session or depending on the Timeline service.
 */
export interface TimelineScope {
  readonly sessionId: string
  readonly record: (entry: TimelineEntryInput) => Effect.Effect<void>
}

export const currentTimelineScope: FiberRef.FiberRef<TimelineScope | undefined> = FiberRef.unsafeMake<
  TimelineScope | undefined
>(undefined)

/**
 * A provider client's attempt as the timeline has it (`provider.call`): `ok` for a 2xx,
 * `refused` for any other status, `no-answer` without one.
 */
export const providerCallEntry = (
  operation: string,
  attempt: number,
  latencyMs: number,
  status: number | undefined
): TimelineEntryInput => ({
  kind: "provider.call",
  operation,
  outcome: status === undefined ? "no-answer" : status >= 200 && status < 300 ? "ok" : "refused",
  ...(status !== undefined ? { status } : {}),
  latencyMs: Math.round(latencyMs),
  attempt
})

/**
 * A provider client's attempt, recorded as `provider.call` in the timeline of the session the
 * fiber works for, if any (built only then).
 */
export const recordCallInScope = (
  operation: string,
  attempt: number,
  latencyMs: number,
  status: number | undefined
): Effect.Effect<void> =>
  FiberRef.getWith(
    currentTimelineScope,
    (scope) =>
      scope === undefined ? Effect.void : scope.record(providerCallEntry(operation, attempt, latencyMs, status))
  )
