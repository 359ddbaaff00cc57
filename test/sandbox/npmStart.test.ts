/**
 * The sandbox's walkthrough as a new user follows it: `npm start` run as package.json runs it,
 * the variables read from what it printed, every printed step performed with real HTTP as its
 * curl line sends it, and what hbf-bot received checked after each flow. Also: README.md holds
 * the same walkthrough, and `GET /sim` on every simulator lists the actions the walkthrough uses,
 * with example bodies they take.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { freePort } from "../../sandbox/environment.js"
import {
  defaultWalkthroughSettings,
  type Host,
  type ProviderWalkthrough,
  renderVariables,
  renderWalkthroughs,
  type Step,
  walkthroughs
} from "../../sandbox/walkthrough.js"
import { eventually } from "../eventually.js"
import { spawnGateway } from "../integration/gatewayProcess.js"
import { call } from "./httpHelpers.js"

/** Every variable that would make `npm start` run a configuration, or change its logging, unset. */
const bareEnvironment: Record<string, undefined> = Object.fromEntries(
  Object.keys(process.env)
    .filter((name) => /^(HBF_|LCG_|REDIS_|CISCO_|ZENDESK_|OTEL_|LOG_|SANDBOX_|PORT$)/.test(name))
    .map((name) => [name, undefined])
)

/** The variables the sandbox printed (the `export NAME=value …` lines before `field`, which the steps follow). */
const printedVariables = (output: string): Map<string, string> => {
  const variables = new Map<string, string>()
  for (const line of output.slice(0, output.indexOf("field()")).split("\n")) {
    if (!line.startsWith("export ")) continue
    for (const assignment of line.slice("export ".length).split(" ")) {
      const [name, value] = assignment.split("=", 2)
      variables.set(name!, value!)
    }
  }
  return variables
}

const substitute = (text: string, variables: ReadonlyMap<string, string>) =>
  text.replace(/\$([A-Z_]+)/g, (_, name: string) => {
    const value = variables.get(name)
    if (value === undefined) throw new Error(`$${name} is not set at this step`)
    return value
  })

/** One step as its curl line sends it: curl -d labels the body a form, the gateway's steps say JSON. */
const perform = (step: Step, variables: Map<string, string>) =>
  Effect.gen(function*() {
    const headers: Record<string, string> = {}
    if (step.auth !== undefined) headers["authorization"] = `Bearer ${variables.get(step.auth)}`
    if (step.body !== undefined) {
      headers["content-type"] = step.host === "GATEWAY" ? "application/json" : "application/x-www-form-urlencoded"
    }
    const answer = yield* call(substitute(`$${step.host}${step.path}`, variables), {
      method: step.method,
      headers,
      ...(step.body !== undefined ? { body: JSON.stringify(step.body) } : {})
    })
    expect(answer.status, `${step.method} ${step.host}${step.path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300)
    for (const [name, field] of Object.entries(step.exports ?? {})) {
      expect(answer.body[field], `${field} of the answer to ${step.path}`).toEqual(expect.any(String))
      variables.set(name, answer.body[field])
    }
    return answer
  })

const menu = { url: "https://files.example.com/menu.pdf", contentType: "application/pdf", name: "menu.pdf" }

/**
 * What hbf-bot receives, flow by flow (types in order; other events may come between), and the
 * agent message's attachments where the provider has them: the gateway's shape end to end.
 */
const expected: Record<string, ReadonlyArray<ReadonlyArray<string>>> = {
  "demo-helvia": [
    ["agent.joined", "agent.typing", "agent.message", "agent.left", "request.queued", "agent.joined", "session.ended"],
    // The second request's: its place in the queue, then the user's end.
    ["request.queued", "session.ended"],
    ["request.failed"],
    ["session.ended"]
  ],
  "demo-genesys": [
    ["agent.joined", "agent.typing", "agent.message", "agent.left", "agent.joined", "session.ended"],
    ["agent.joined", "agent.left"],
    // No livechat of its own: the previous flow's events stand.
    []
  ],
  "demo-cisco": [["agent.joined", "agent.typing", "agent.message", "session.ended"], ["request.failed"]],
  "demo-zendesk": [
    ["agent.joined", "agent.typing", "agent.message", "agent.message", "agent.read", "session.ended"],
    ["agent.joined", "session.ended"],
    ["agent.joined", "session.ended"]
  ]
}

/** Whether `wanted` occurs in `types` in this order. */
const inOrder = (types: ReadonlyArray<string>, wanted: ReadonlyArray<string>) => {
  let next = 0
  for (const type of types) if (type === wanted[next]) next++
  return next === wanted.length
}

const followFlows = (walkthrough: ProviderWalkthrough, variables: Map<string, string>) =>
  Effect.gen(function*() {
    for (const [index, flow] of walkthrough.flows.entries()) {
      for (const step of flow.steps) {
        yield* perform(step, variables)
        // As a person at a shell: the next line comes a moment later.
        yield* Effect.sleep(Duration.millis(200))
      }
      const wanted = expected[walkthrough.tenantId]![index]!
      const events = yield* eventually(
        `${walkthrough.tenantId} "${flow.title}": hbf-bot receives ${wanted.join(", ")}`,
        Effect.map(
          call(substitute("$BOT/sandbox/events?sessionId=$SESSION", variables)),
          (answer) => answer.body as ReadonlyArray<{ type: string; data: Record<string, any> }>
        ),
        (events) => inOrder(events.map((e) => e.type), wanted),
        Duration.seconds(20)
      )
      const said = flow.steps.find((s) => s.path.endsWith("/say"))
      if (said?.body?.["attachments"] !== undefined) {
        const attachments = events.filter((e) => e.type === "agent.message").flatMap((e) => e.data["attachments"] ?? [])
        expect(attachments).toEqual([expect.objectContaining(menu)])
      }
    }
  })

/** The host of each provider's simulator, and the walkthrough using it. */
const simulators: ReadonlyArray<readonly [Host, string]> = [
  ["LCM", "demo-helvia"],
  ["GENESYS", "demo-genesys"],
  ["CISCO", "demo-cisco"],
  ["ZENDESK", "demo-zendesk"]
]

interface SimAction {
  readonly action: string
  readonly method: string
  readonly path: string
  readonly does: string
  readonly example?: Record<string, unknown>
}

const templateMatches = (template: string, path: string) =>
  new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path)

describe("the sandbox's walkthrough", () => {
  it("README.md holds the walkthrough npm start prints, and the lines that set its variables", () => {
    const readme = readFileSync("README.md", "utf8")
    const block = /<!-- walkthrough: sandbox\/walkthrough\.ts -->\n```sh\n([\s\S]*?)\n```/.exec(readme)
    expect(block?.[1]).toBe(renderWalkthroughs(defaultWalkthroughSettings))
    const port = "http://127.0.0.1:<port>"
    expect(readme).toContain(
      renderVariables({
        GATEWAY: "http://localhost:3000",
        BOT: port,
        PUBLISHER: port,
        LCM: port,
        GENESYS: port,
        CISCO: port,
        ZENDESK: port,
        TOKEN: "<printed>",
        ADMIN_TOKEN: "<printed>"
      })
    )
  })

  it.live(
    "npm start prints it; every step of every provider works as printed, and hbf-bot receives what each flow says; GET /sim lists every action used",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const sandbox = yield* spawnGateway({ ...bareEnvironment, PORT: String(port) })
        const output = yield* eventually("the walkthrough", Effect.sync(sandbox.output), (o) => o.includes("field()"))
        expect(output).toContain(renderWalkthroughs(defaultWalkthroughSettings))
        const variables = printedVariables(output)
        expect([...variables.keys()].sort()).toEqual(
          ["ADMIN_TOKEN", "BOT", "CISCO", "GATEWAY", "GENESYS", "LCM", "PUBLISHER", "TOKEN", "ZENDESK"]
        )
        expect(variables.get("GATEWAY")).toBe(`http://localhost:${port}`)
        // The plain token is an upstream token, not an admin one.
        const admin = yield* call(`${variables.get("GATEWAY")}/admin/cluster`, { token: variables.get("TOKEN")! })
        expect(admin.status).toBe(403)

        const walkthroughsByTenant = new Map(walkthroughs(defaultWalkthroughSettings).map((w) => [w.tenantId, w]))
        for (const [host, tenantId] of simulators) {
          const listing = yield* call(`${variables.get(host)}/sim`)
          expect(listing.status).toBe(200)
          const actions = listing.body.actions as ReadonlyArray<SimAction>
          expect(listing.body.simulator).toEqual(expect.any(String))
          // Each step on the simulator is a listed action; each agent action is in the walkthrough.
          const steps = walkthroughsByTenant.get(tenantId)!.flows.flatMap((f) => f.steps).filter((s) => s.host === host)
          for (const step of steps) {
            expect(actions.some((a) => a.method === step.method && templateMatches(a.path, step.path)), step.path).toBe(
              true
            )
          }
          // The unreachable switch is every simulator's, not an agent's (test/e2e/providerHealth.test.ts turns it).
          for (const action of actions.filter((a) => a.action !== "resend" && a.action !== "unreachable")) {
            expect(steps.some((s) => templateMatches(action.path, s.path)), `${host} ${action.action}`).toBe(true)
          }
          // Every example body is taken: an unknown conversation is what stops it (404), not the body (400).
          for (const action of actions.filter((a) => a.action !== "unreachable")) {
            const path = action.path.replace(/\{[^}]+\}/g, "0123456789abcdef0123456789abcdef")
            const answer = yield* call(`${variables.get(host)}${path}`, {
              method: action.method,
              ...(action.example !== undefined ? { body: JSON.stringify(action.example) } : {})
            })
            expect(answer.status, `${host} ${action.action}: ${JSON.stringify(answer.body)}`).toBe(404)
          }
        }

        for (const walkthrough of walkthroughs(defaultWalkthroughSettings)) {
          yield* followFlows(walkthrough, new Map(variables))
        }

        // Logged as LOG_FORMAT's default, pretty, says: one line an entry, the simulators' too; health checks
        // (spawnGateway's probes) at debug, so not at all; no no-op trace ids.
        const lines = sandbox.output().split("\n")
        const access = lines.filter((line) => line.includes("Sent HTTP response"))
        expect(access.length).toBeGreaterThan(0)
        for (const line of access) {
          expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO +Sent HTTP response /)
          for (const field of ["http.method=", "http.url=", "http.status="]) expect(line).toContain(field)
        }
        expect(access.filter((line) => line.includes("/health/"))).toEqual([])
        expect(lines.some((line) => / INFO +hbf-bot <- agent\.message /.test(line))).toBe(true)
        expect(sandbox.output()).not.toContain("noop")
      }).pipe(Effect.scoped),
    180_000
  )
})

/** `npm start` with `env` until it exits by itself (killed after 30 s): its exit code and output. */
const runToExit = (env: Record<string, string | undefined>) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "sandbox/start.ts"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => void (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    const limit = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.once("close", (code) => {
      clearTimeout(limit)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** A port something else listens on, for the scope. */
const takenPort = Effect.acquireRelease(
  Effect.async<{ port: number; close: () => void }>((resume) => {
    const server = createServer()
    server.listen(0, () => {
      const address = server.address()
      resume(
        Effect.succeed({
          port: typeof address === "object" && address !== null ? address.port : 0,
          close: () => server.close()
        })
      )
    })
  }),
  ({ close }) => Effect.sync(close)
)

describe("npm start's sandbox: settings, logging, a taken port", () => {
  it.live(
    "a taken port: one line naming the port and what to do, exit 1, no walkthrough, no stack trace",
    () =>
      Effect.gen(function*() {
        const { port } = yield* takenPort
        const exited = yield* runToExit({ ...bareEnvironment, PORT: String(port) })
        expect(exited.code).toBe(1)
        expect(exited.stderr).toBe(
          `hbf-lcg sandbox: port ${port} is taken by another process; stop it, or start the sandbox on another port: PORT=${
            port + 1
          } npm start\n`
        )
        expect(exited.stdout).not.toContain("export TOKEN")
        expect(exited.stdout).not.toMatch(/EADDRINUSE| {4}at /)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "LOG_FORMAT=json, LOG_LEVEL=debug and SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS=1: JSON lines (the simulators' too), health checks at debug, the timeout printed and applied",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort
        const sandbox = yield* spawnGateway({
          ...bareEnvironment,
          PORT: String(port),
          LOG_FORMAT: "json",
          LOG_LEVEL: "debug",
          SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS: "1"
        })
        const output = yield* eventually("the walkthrough", Effect.sync(sandbox.output), (o) => o.includes("field()"))
        expect(output).toContain(renderWalkthroughs({ ciscoJoinTimeoutSeconds: 1 }))
        expect(output).toContain(
          "a chat no agent joins within 1 s ends (SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS; 0 = never)"
        )
        const variables = printedVariables(output)
        const opened = yield* call(`${variables.get("GATEWAY")}/requests`, {
          token: variables.get("TOKEN")!,
          body: { tenantId: "demo-cisco", subHandle: "carol", user: { name: "Carol" } }
        })
        expect(opened.status).toBe(201)
        // Nobody joins: after 1 s CCP ends the chat, which the gateway reads at its next poll (5 s).
        const failed = yield* eventually(
          "request.failed at hbf-bot",
          Effect.map(call(`${variables.get("BOT")}/sandbox/events?sessionId=${opened.body.sessionId}`), (a) => a.body),
          (events: ReadonlyArray<{ type: string; data: Record<string, unknown> }>) =>
            events.some((e) => e.type === "request.failed"),
          Duration.seconds(15)
        )
        expect(failed.find((e) => e.type === "request.failed")?.data["reason"]).toBe("timeout")

        const logs = sandbox.output().split("\n").filter((line) => line.startsWith("{")).map((line) =>
          JSON.parse(line) as { message: string; logLevel: string; annotations: Record<string, unknown> }
        )
        const health = logs.filter((l) => String(l.annotations["http.url"]).startsWith("/health/"))
        expect(health.length).toBeGreaterThan(0)
        expect(health.every((l) => l.logLevel === "DEBUG")).toBe(true)
        expect(logs.some((l) => l.logLevel === "INFO" && String(l.message).includes("hbf-bot <- request.failed"))).toBe(
          true
        )
        expect(logs.filter((l) => l.annotations["effect.traceId"] !== undefined)).toEqual([])
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("LOG_LEVEL=warn: neither the gateway nor the simulators log below warn", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const sandbox = yield* spawnGateway({ ...bareEnvironment, PORT: String(port), LOG_LEVEL: "warn" })
      const output = yield* eventually("the walkthrough", Effect.sync(sandbox.output), (o) => o.includes("field()"))
      const variables = printedVariables(output)
      const opened = yield* call(`${variables.get("GATEWAY")}/requests`, {
        token: variables.get("TOKEN")!,
        body: { tenantId: "demo-helvia", subHandle: "alice", user: { name: "Alice" } }
      })
      expect(opened.status).toBe(201)
      yield* Effect.sleep(Duration.seconds(1))
      const logged = sandbox.output().split("\n").filter((line) => /^\d\d:\d\d:\d\d\.\d{3} /.test(line))
      expect(logged.length).toBeGreaterThan(0) // the memory-store warning
      expect(logged.filter((line) => !/^\S+ (WARN|ERROR|FATAL) /.test(line))).toEqual([])
      expect(sandbox.output()).not.toContain("hbf-lcm <- livechat request")
    }).pipe(Effect.scoped), 60_000)

  it.live("a bad SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS: exit 1 naming it", () =>
    Effect.gen(function*() {
      const exited = yield* runToExit({
        ...bareEnvironment,
        PORT: String(yield* freePort),
        SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS: "-1"
      })
      expect(exited.code).toBe(1)
      expect(exited.stderr).toContain("SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS: Expected a whole number of seconds")
      expect(exited.stdout).toBe("")
    }), 60_000)
})
