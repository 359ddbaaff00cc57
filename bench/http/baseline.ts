/**
 * The forward path's baseline: plain node:http doing the same I/O as the gateway's
 * POST /messages, with the same clients (ioredis, undici) and nothing else. It reads the
 * body, JSON.parses it, checks its fields, reads the subscriber's session with one Redis
 * GET, posts the message to the provider with one HTTP call, and answers 202.
 * Env: PORT, REDIS_URL, BASELINE_PREFIX, PROVIDER_URL. Run by httpPaths.ts as a process of its own.
 */
import { Redis } from "ioredis"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { Pool } from "undici"

const redis = new Redis(process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379")
const prefix = process.env["BASELINE_PREFIX"] ?? "lcg-baseline"
const provider = new Pool(process.env["PROVIDER_URL"]!, { connections: 64 })

const answer = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const handle = async (req: IncomingMessage, res: ServerResponse) => {
  if (req.method !== "POST" || req.url !== "/messages") return answer(res, 404, { error: "NotFound" })
  const body = JSON.parse(await readBody(req)) as Record<string, unknown>
  const { messageId, subHandle, tenantId, text } = body
  if (
    typeof tenantId !== "string" || typeof subHandle !== "string" || typeof messageId !== "string" ||
    typeof text !== "string"
  ) {
    return answer(res, 400, { error: "BadRequest" })
  }
  const stored = await redis.get(`${prefix}:subscriber:${subHandle}`)
  if (stored === null) return answer(res, 404, { error: "SessionNotFound" })
  const session = JSON.parse(stored) as { sessionId: string; organizationId: string }
  const sent = await provider.request({
    method: "POST",
    path: `/organizations/${encodeURIComponent(session.organizationId)}/livechat-messages`,
    headers: { "content-type": "application/json", authorization: "Bearer baseline" },
    body: JSON.stringify({
      platformSessionId: session.sessionId,
      platformUserId: subHandle,
      messageId,
      text,
      sentDate: new Date().toISOString()
    })
  })
  await sent.body.dump()
  if (sent.statusCode >= 300) return answer(res, 502, { error: "ProviderError" })
  answer(res, 202, { messageId, sessionId: session.sessionId })
}

createServer((req, res) => {
  handle(req, res).catch((error: unknown) => answer(res, 500, { error: String(error) }))
}).listen(Number(process.env["PORT"]), "127.0.0.1", () => console.log("baseline ready"))
