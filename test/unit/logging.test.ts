/** The gateway's log lines: health checks' access lines at debug, nothing else moved down. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, LogLevel } from "effect"
import { LoggingLive } from "../../src/infra/Logging.js"

/** What an access line for `url` prints at LOG_LEVEL=info. */
const printed = (url: string) => {
  const lines: Array<string> = []
  const original = globalThis.console.log
  globalThis.console.log = (line: string) => void lines.push(line)
  try {
    Effect.runSync(
      Effect.logInfo("Sent HTTP response").pipe(
        Effect.annotateLogs({ "http.url": url }),
        Effect.provide(LoggingLive("pretty", LogLevel.Info))
      )
    )
  } finally {
    globalThis.console.log = original
  }
  return lines
}

describe("access lines", () => {
  it("the probes' own routes are at debug (dropped at info); a scan of other paths under /health/ is not", () => {
    expect(printed("/health/ready")).toEqual([])
    expect(printed("/health/live?probe=k8s")).toEqual([])
    for (const url of ["/health/x", "/health/../admin/cluster", "/messages"]) {
      const lines = printed(url)
      expect(lines.length).toBeGreaterThan(0)
      for (const line of lines) {
        expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}Sent HTTP response/)
        expect(line).toContain(`http.url=${url}`)
      }
    }
  })
})
