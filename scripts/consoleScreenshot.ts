/**
 * README.md's picture of the operator console (docs/console-timeline.png): `npm run docs:screenshot`
 * starts the sandbox, has a livechat go through some trouble (hbf-bot refuses a delivery once,
 * hbf-lcm posts a webhook twice, a pause, the agent ends the chat), opens the console in
 * Chromium and photographs the session and its timeline.
 *
 * Of a gateway already running: `LCG_ADMIN_TOKEN=<an admin token> npm run docs:screenshot -- --url
 * http://localhost:3000 --session <sessionId>` (the token from the environment, as `npm run
 * timeline` takes it: not in `ps` or the shell's history). Chromium: LCG_CHROMIUM, else /usr/bin/chromium.
 */
import { Duration, Effect, Layer, Logger, LogLevel } from "effect"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { chromium } from "playwright-core"
import { makeSandbox } from "../sandbox/environment.js"
import { signToken } from "../sandbox/token.js"
import { GatewayServerLive } from "../src/app/App.js"

const output = fileURLToPath(new URL("../docs/console-timeline.png", import.meta.url))
const executablePath = process.env["LCG_CHROMIUM"] ?? "/usr/bin/chromium"

interface Shot {
  readonly url: string
  readonly token: string
  readonly sessionId: string
}

const photograph = ({ sessionId, token, url }: Shot) =>
  Effect.acquireUseRelease(
    Effect.promise(() => chromium.launch({ executablePath })),
    (browser) =>
      Effect.promise(async () => {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 })
        await page.goto(`${url}/admin/console`)
        await page.fill("#token", token)
        await page.click("text=Use token")
        await page.fill("#find-session", sessionId)
        await page.click("#find-form button[type=submit]")
        await page.locator("#timeline > *").first().waitFor({ timeout: 10_000 })
        await page.locator("#session-section").screenshot({ path: output })
      }),
    (browser) => Effect.promise(() => browser.close())
  )

/** A helvia livechat with a retried delivery, a duplicate webhook, a pause and an end, in a sandbox started here. */
const sandboxShot = Effect.gen(function*() {
  const sandbox = yield* makeSandbox({
    configure: (config) => ({
      ...config,
      delivery: { maxAttempts: 4, baseDelay: Duration.millis(300), maxDelay: Duration.seconds(2) }
    })
  })
  yield* Layer.buildWithScope(GatewayServerLive(sandbox.config, "sandbox"), yield* Effect.scope)
  const url = `http://127.0.0.1:${sandbox.config.port}`
  const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
  const created = yield* Effect.promise(() =>
    fetch(`${url}/requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "alice", channel: "webchat", user: { name: "Alice" } })
    }).then((response) => response.json() as Promise<{ readonly sessionId: string }>)
  )
  const sessionId = created.sessionId
  yield* sandbox.bot.waitFor((events) => events.length >= 1)
  sandbox.bot.failNext(1, 503)
  const joined = yield* sandbox.lcm.join(sessionId)
  yield* sandbox.bot.waitFor((events) => events.some((e) => e.type === "agent.joined"))
  yield* sandbox.lcm.resend(joined.eventId)
  yield* sandbox.lcm.say(sessionId, "Hello, how can I help?")
  yield* Effect.sleep(Duration.seconds(3))
  yield* sandbox.lcm.end(sessionId)
  yield* sandbox.bot.waitFor((events) => events.some((e) => e.type === "session.ended"))
  // The timeline is written in batches: its last entries a moment after the events.
  yield* Effect.sleep(Duration.millis(200))
  const admin = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))
  yield* photograph({ url, token: admin, sessionId })
}).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))

const { values } = parseArgs({
  options: { url: { type: "string" }, session: { type: "string" } }
})
const adminToken = process.env["LCG_ADMIN_TOKEN"] ?? ""
const program = values.url === undefined ?
  sandboxShot :
  adminToken === "" || values.session === undefined ?
  Effect.dieMessage("--url needs LCG_ADMIN_TOKEN set (an admin token) and --session (a session id)") :
  photograph({ url: values.url.replace(/\/$/, ""), token: adminToken, sessionId: values.session })

Effect.runPromise(program).then(
  () => {
    console.log(`wrote ${output}`)
    process.exit(0)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
