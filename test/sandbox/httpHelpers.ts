import { Effect } from "effect"
import { createHmac } from "node:crypto"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** Waits (polling every 10 ms) until `check` holds; dies after `timeoutMs`. */
export const waitFor = (what: string, check: () => boolean, timeoutMs = 3_000) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  })

/** What `call` got back: the status, the headers and the body parsed as JSON (null when empty). */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: any
}

/** One HTTP request; `body`: an object is sent as JSON (Content-Type application/json unless given), a string as is; POST when there is a body, else GET. */
export const call = (
  url: string,
  init: { method?: string; token?: string; headers?: Record<string, string>; body?: unknown } = {}
): Effect.Effect<Answer> =>
  Effect.promise(async () => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.token !== undefined) headers["authorization"] = `Bearer ${init.token}`
    let body: string | undefined
    if (typeof init.body === "string") body = init.body
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body)
      headers["content-type"] ??= "application/json"
    }
    const method = init.method ?? (body === undefined ? "GET" : "POST")
    const response = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) })
    const text = await response.text()
    return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) }
  })

/** `sha256=` and the HMAC-SHA256 of `bytes` under `secret`, hex by default (Genesys signs in base64). */
export const hmac = (secret: string, bytes: Uint8Array | string, encoding: "hex" | "base64" = "hex") =>
  `sha256=${createHmac("sha256", secret).update(bytes).digest(encoding)}`

/** One request the receiver got: its path, headers and exact body bytes. */
export interface Hit {
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly raw: Buffer
}

/** A node:http receiver standing in for the gateway's webhook: records each request, answers the scripted `statuses` in turn (empty body), then 200 { accepted: 1 }; its `url` ends in `path`; closed with the Scope. */
export const makeReceiver = (options: { readonly statuses?: ReadonlyArray<number>; readonly path?: string } = {}) =>
  Effect.acquireRelease(
    Effect.async<{ url: string; hits: Array<Hit>; close: () => Promise<void> }>((resume) => {
      const statuses = [...(options.statuses ?? [])]
      const hits: Array<Hit> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          hits.push({ url: req.url ?? "", headers: req.headers, raw: Buffer.concat(chunks) })
          const scripted = statuses.shift()
          if (scripted !== undefined) res.writeHead(scripted).end()
          else {
            res.writeHead(200, { "content-type": "application/json" })
            res.end(JSON.stringify({ accepted: 1 }))
          }
        })
      })
      server.listen(0, "127.0.0.1", () =>
        resume(
          Effect.succeed({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${options.path ?? ""}`,
            hits,
            close: () =>
              new Promise<void>((done) => {
                server.closeAllConnections()
                server.close(() => done())
              })
          })
        ))
    }),
    (receiver) => Effect.promise(receiver.close)
  )
