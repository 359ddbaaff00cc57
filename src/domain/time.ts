/**
 * The time now, as the gateway's records and provider payloads write it (ISO 8601), from the
 * Effect `Clock`: tests move it with TestClock, where `new Date()` would read the machine's.
 */
import { Clock, Effect } from "effect"

export const nowIso: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

/**
 * `nowIso` for code outside a fiber's step (a hot path that adds no fiber op for it), on a
 * `Clock` taken at construction (perf: docs/ARCHITECTURE.md#perf-fiber-ops).
 */
export const isoNow = (clock: Clock.Clock): string => new Date(clock.unsafeCurrentTimeMillis()).toISOString()
