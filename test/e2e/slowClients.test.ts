/**
 * The HTTP server's limits on clients (LCG_HTTP_*): a client that sends its headers or its
 * body too slowly is answered 408 and cut off, an idle kept-alive connection is closed, and
 * connections beyond the cap are closed as they come. Short limits here, so the test does
 * not wait out the production ones (10 s, 30 s).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { connect } from "node:net"
import { startGateway } from "./harness.js"

const limits = {
  headersTimeout: Duration.millis(300),
  requestTimeout: Duration.millis(900),
  keepAliveTimeout: Duration.millis(300),
  maxConnections: 4
}

/** A raw connection: what it received, and whether and when the server closed it. */
const open = (port: number) => {
  const socket = connect(port, "127.0.0.1")
  const opened = performance.now()
  let received = ""
  let closedAfter: number | undefined
  socket.setEncoding("utf8")
  socket.on("data", (chunk: string) => (received += chunk))
  socket.on("error", () => undefined)
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => resolve(void (closedAfter = performance.now() - opened)))
  )
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  return {
    socket,
    connected,
    /** Waits for the close, at most `ms`: the received text and the ms after opening (undefined: still open). */
    closedWithin: (ms: number) =>
      Promise.race([closed, new Promise((resolve) => setTimeout(resolve, ms))]).then(() => ({ received, closedAfter }))
  }
}

describe("slow and idle clients", () => {
  it.live("headers or a body sent too slowly: 408 and the connection closed; idle connections closed; connections capped", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ configure: (config) => ({ ...config, httpServer: limits }) })
      const port = gw.config.port
      const token = yield* gw.token()

      // Headers that never end (the direct routes' path, and any other).
      const slowHeaders = open(port)
      slowHeaders.socket.write("POST /messages HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n")
      const headers = yield* Effect.promise(() => slowHeaders.closedWithin(3_000))
      expect(headers.received).toMatch(/^HTTP\/1\.1 408/)
      expect(headers.closedAfter).toBeGreaterThanOrEqual(300)
      expect(headers.closedAfter).toBeLessThan(1_500)

      // A body that stops half way, with a valid token: on a direct route and on the HttpApi server.
      for (const path of ["/messages", "/requests"]) {
        const slowBody = open(port)
        slowBody.socket.write(
          `POST ${path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"tenantId":`
        )
        const body = yield* Effect.promise(() => slowBody.closedWithin(3_000))
        expect([path, body.received.slice(0, 12)]).toEqual([path, "HTTP/1.1 408"])
        expect(body.closedAfter).toBeGreaterThanOrEqual(900)
        expect(body.closedAfter).toBeLessThan(2_500)
      }

      // A kept-alive connection, idle after its answer.
      const idle = open(port)
      idle.socket.write("GET /health/live HTTP/1.1\r\nHost: gateway\r\n\r\n")
      const kept = yield* Effect.promise(() => idle.closedWithin(3_000))
      expect(kept.received).toMatch(/^HTTP\/1\.1 200/)
      expect(kept.closedAfter).toBeLessThan(1_500)

      // Four connections at once are served; a fifth is closed as it comes, unanswered.
      const four = Array.from({ length: 4 }, () => open(port))
      yield* Effect.promise(() => Promise.all(four.map((connection) => connection.connected)))
      const fifth = open(port)
      fifth.socket.write("GET /health/live HTTP/1.1\r\nHost: gateway\r\n\r\n")
      const refused = yield* Effect.promise(() => fifth.closedWithin(250))
      expect(refused).toMatchObject({ received: "", closedAfter: expect.any(Number) })
      const first = four[0]!
      first.socket.write("GET /health/live HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
      expect((yield* Effect.promise(() => first.closedWithin(3_000))).received).toMatch(/^HTTP\/1\.1 200/)
      for (const connection of four) connection.socket.destroy()
    }).pipe(Effect.scoped))
})
