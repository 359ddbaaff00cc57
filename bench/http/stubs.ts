/**
 * Cheap stand-ins for the services the gateway calls on the measured paths, so that the
 * benchmark measures the gateway and not an Effect-based simulator sharing its two cores:
 * a provider (hbf-lcm's message and request routes: 204) and a receiver for delivered
 * events (hbf-bot and event-publisher: 200) that records when each event arrived.
 * Correctness against the contracts is the simulators' and the tests' job.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"

export interface Delivered {
  readonly id: string
  readonly text: string | undefined
  readonly at: number
}

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  )

export const startStubs = async () => {
  let providerCalls = 0
  const provider = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      providerCalls++
      res.writeHead(204).end()
    })
  })
  const delivered = new Map<string, Delivered>()
  let deliveries = 0
  const receiver = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const at = performance.now()
      deliveries++
      const event = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string; data?: { text?: string } }
      if (!delivered.has(event.id)) delivered.set(event.id, { id: event.id, text: event.data?.text, at })
      const body = JSON.stringify({ received: event.id })
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body)
    })
  })
  const [providerUrl, receiverUrl] = await Promise.all([listen(provider), listen(receiver)])
  return {
    providerUrl,
    receiverUrl,
    providerCalls: () => providerCalls,
    delivered,
    /** Deliveries received, repeats included. */
    deliveries: () => deliveries,
    close: () => {
      provider.closeAllConnections()
      receiver.closeAllConnections()
      provider.close()
      receiver.close()
    }
  }
}
