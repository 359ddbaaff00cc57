/**
 * A loopback load balancer in front of the gateway instances, as a deployment has one:
 * provider webhooks (whose URL is fixed at the provider) and hbf-bot's calls reach whichever
 * instance is alive. Like a real one it routes only to instances whose /health/ready says
 * 200 (probed every 250 ms) and fails over to the next instance when a connection fails
 * (an instance killed with -9 before the probe noticed). A request no instance answered
 * gets a 502, as it would from a proxy: the caller (a provider, hbf-bot) retries.
 */
import { Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"

export interface Balancer {
  readonly url: string
}

/** Headers a proxy must not forward as they are (hop-by-hop, or recomputed by fetch). */
const hopByHop = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
  "upgrade"
])

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

/**
 * Listens on `port` (0 = any) and spreads requests round-robin over `backends()` (base URLs),
 * preferring the ready ones.
 */
export const startBalancer = (port: number, backends: () => ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const ready = new Map<string, boolean>()
    let next = 0

    const probe = setInterval(() => {
      for (const url of backends()) {
        fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) }).then(
          (r) => {
            ready.set(url, r.status === 200)
            return r.arrayBuffer()
          },
          () => ready.set(url, false)
        )
      }
    }, 250)

    /** Ready backends first (round-robin), then the rest: when none is ready (Redis down), they still answer 503s. */
    const order = () => {
      const all = backends()
      const start = next++ % Math.max(1, all.length)
      const rotated = [...all.slice(start), ...all.slice(0, start)]
      return [...rotated.filter((u) => ready.get(u) !== false), ...rotated.filter((u) => ready.get(u) === false)]
    }

    const forward = async (req: IncomingMessage, res: ServerResponse) => {
      const body = await readBody(req)
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) if (!hopByHop.has(k) && typeof v === "string") headers[k] = v
      const failedOver: Array<string> = []
      for (const backend of order()) {
        let response: Response
        try {
          response = await fetch(`${backend}${req.url ?? "/"}`, {
            method: req.method ?? "GET",
            headers,
            ...(body.length > 0 && req.method !== "GET" && req.method !== "HEAD" ? { body } : {}),
            signal: AbortSignal.timeout(15_000)
          })
        } catch {
          ready.set(backend, false) // no answer: try the next instance
          failedOver.push(backend)
          continue
        }
        const payload = Buffer.from(await response.arrayBuffer())
        const out: Record<string, string> = {}
        response.headers.forEach((v, k) => {
          if (!hopByHop.has(k) && k !== "content-encoding") out[k] = v
        })
        // For diagnosis: which instance answered, and which did not before it.
        out["x-chaos-backend"] = backend
        if (failedOver.length > 0) out["x-chaos-failed-over"] = failedOver.join(" ")
        res.writeHead(response.status, out)
        res.end(payload)
        return
      }
      res.writeHead(502, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: "BadGateway", message: "no gateway instance answered" }))
    }

    const server = createServer((req, res) => {
      forward(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: "BadGateway", message: String(e) }))
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(port, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          clearInterval(probe)
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address()
    const bound = typeof address === "object" && address !== null ? address.port : port
    return { url: `http://127.0.0.1:${bound}` } satisfies Balancer
  })
