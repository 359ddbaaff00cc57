/**
 * What an on-call engineer reads, from a gateway process configured like production
 * (LOG_FORMAT=json, LOG_LEVEL=debug, OTEL_EXPORTER_OTLP_ENDPOINT set): livechats on all four
 * providers leave JSON log lines that carry session and trace ids and never a secret, and
 * their spans reach an OTLP collector.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { demoGenesys, demoHelviaSecret, demoZendesk } from "../../sandbox/demoTenants.js"
import { makeSandbox } from "../../sandbox/environment.js"
import { signToken } from "../../sandbox/token.js"
import { eventually } from "../eventually.js"
import { environmentOf, spawnGateway } from "./gatewayProcess.js"

/** An OTLP/HTTP collector on loopback: the names of the spans it was sent. */
const otlpCollector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly spanNames: Array<string>; readonly close: () => void }>((resume) => {
    const spanNames: Array<string> = []
    const server = createServer((request, response) => {
      let body = ""
      request.on("data", (chunk: Buffer) => void (body += chunk.toString()))
      request.on("end", () => {
        if (request.url === "/v1/traces") {
          const parsed = JSON.parse(body) as {
            resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }>
          }
          for (const resource of parsed.resourceSpans) {
            for (const scope of resource.scopeSpans) {
              for (const span of scope.spans) spanNames.push(span.name)
            }
          }
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(
      0,
      "127.0.0.1",
      () =>
        resume(
          Effect.succeed({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            spanNames,
            close: () => server.close()
          })
        )
    )
  }),
  (collector) => Effect.sync(collector.close)
)

describe("logs and traces of a gateway process", () => {
  it.live(
    "livechats on every provider: JSON lines with session and trace ids, no secret in them, spans exported over OTLP",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* makeSandbox({})
        const collector = yield* otlpCollector
        const gateway = yield* spawnGateway({
          ...environmentOf(sandbox.config),
          LOG_FORMAT: "json",
          LOG_LEVEL: "debug",
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url
        })
        const url = `http://127.0.0.1:${sandbox.config.port}`
        const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
        const call = (method: string, path: string, body?: unknown) =>
          Effect.promise(async () => {
            const response = await fetch(`${url}${path}`, {
              method,
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              ...(body !== undefined ? { body: JSON.stringify(body) } : {})
            })
            const text = await response.text()
            return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
          })
        const livechat = (tenantId: string, subHandle: string) =>
          Effect.gen(function*() {
            const created = yield* call("POST", "/requests", {
              tenantId,
              subHandle,
              user: { name: "Alice", email: "alice@example.com" }
            })
            expect(created.status).toBe(201)
            expect((yield* call("POST", "/messages", { tenantId, subHandle, messageId: "m1", text: "hello" })).status)
              .toBe(202)
            return created.body as { sessionId: string; providerConversationId: string }
          })

        const helvia = yield* livechat("demo-helvia", "u-helvia")
        yield* sandbox.lcm.join(helvia.sessionId)
        yield* sandbox.lcm.say(helvia.sessionId, "hi from hbf-lcm")
        const genesys = yield* livechat("demo-genesys", "u-genesys")
        yield* sandbox.genesys.agentJoin(genesys.providerConversationId)
        yield* sandbox.genesys.agentSay(genesys.providerConversationId, { text: "hi from Genesys" })
        const cisco = yield* livechat("demo-cisco", "u-cisco")
        yield* sandbox.cisco.agentJoin(cisco.providerConversationId, "Maria")
        const zendesk = yield* livechat("demo-zendesk", "u-zendesk")
        yield* sandbox.zendesk.agentSay(zendesk.providerConversationId, "hi from Sunshine")
        yield* eventually(
          "every livechat's agent events delivered",
          Effect.sync(() => sandbox.bot.events().filter((e) => e.type.startsWith("agent.")).length),
          (n) => n >= 6,
          Duration.seconds(15)
        )
        for (
          const [tenantId, subHandle] of [["demo-helvia", "u-helvia"], ["demo-genesys", "u-genesys"], [
            "demo-cisco",
            "u-cisco"
          ], ["demo-zendesk", "u-zendesk"]]
        ) {
          expect((yield* call("DELETE", `/sessions/tenants/${tenantId}/subscribers/${subHandle}`)).status).toBe(204)
        }
        yield* eventually(
          "the ends delivered",
          Effect.sync(() => sandbox.bot.events().filter((e) => e.type === "session.ended").length),
          (n) => n >= 4,
          Duration.seconds(15)
        )

        // Spans reach the collector (exported every second).
        yield* eventually(
          "the spans exported",
          Effect.sync(() => new Set(collector.spanNames)),
          (names) =>
            [
              "ingest",
              "deliver",
              "provider.create",
              "provider.sendMessage",
              "provider.end",
              "LivechatRequests.create",
              "LivechatRequests.terminate"
            ].every((n) => names.has(n)),
          Duration.seconds(10)
        )
        expect(collector.spanNames.some((name) => name.startsWith("http.server"))).toBe(true)

        // Every line is JSON; the lines about a session carry its id and a trace id.
        const lines = gateway
          .output()
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) =>
            JSON.parse(line) as { message: unknown; logLevel: string; annotations: Record<string, unknown> }
          )
        const requested = lines.filter((l) => JSON.stringify(l.message).includes("livechat requested"))
        expect(requested).toHaveLength(4)
        for (const line of requested) {
          expect(line.annotations["sessionId"]).toEqual(expect.any(String))
          expect(line.annotations["effect.traceId"]).toEqual(expect.any(String))
        }
        expect(lines.some((l) => l.logLevel === "DEBUG")).toBe(true)

        // No secret of any tenant, of the gateway or of the hbf-* services, in any form it is sent in.
        const output = gateway.output()
        const secrets = [
          sandbox.jwtSecret,
          demoHelviaSecret,
          demoGenesys.clientSecret,
          demoGenesys.webhookSecret,
          Buffer.from(`${demoGenesys.clientId}:${demoGenesys.clientSecret}`).toString("base64"),
          demoZendesk.keySecret,
          demoZendesk.webhookSecret,
          Buffer.from(`${demoZendesk.keyId}:${demoZendesk.keySecret}`).toString("base64"),
          "sandbox-core-token",
          "sandbox-lcm-token",
          token
        ]
        for (const secret of secrets) expect(output).not.toContain(secret)
        // The CCP chat's cookie is a credential to the chat too.
        expect(output).not.toContain(sandbox.cisco.chatWith("hbfSessionId", cisco.sessionId)!.cookie)
      }).pipe(Effect.scoped),
    90_000
  )
})
