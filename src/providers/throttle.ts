/** Rate limits shared by the providers. */

/** Admits a key at most once per `intervalMs`; forgets keys idle for longer, so it stays small. */
export const makeThrottle = (intervalMs: number) => {
  const last = new Map<string, number>()
  return {
    admit: (key: string) => {
      const now = Date.now()
      if (now - (last.get(key) ?? 0) < intervalMs) return false
      last.set(key, now)
      if (last.size > 10_000) for (const [k, at] of last) if (now - at >= intervalMs) last.delete(k)
      return true
    }
  }
}
