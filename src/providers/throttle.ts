/** Rate limits shared by the providers. */
import type { Clock } from "effect"

/** Admits a key at most once per `intervalMs` of `clock`; forgets keys idle for longer, so it stays small. */
export const makeThrottle = (intervalMs: number, clock: Clock.Clock) => {
  const last = new Map<string, number>()
  return {
    admit: (key: string) => {
      const now = clock.unsafeCurrentTimeMillis()
      if (now - (last.get(key) ?? 0) < intervalMs) return false
      last.set(key, now)
      if (last.size > 10_000) { for (const [k, at] of last) if (now - at >= intervalMs) last.delete(k) }
      return true
    }
  }
}
