/**
 * The operator console driven in a real browser (Debian's Chromium through playwright-core):
 * an operator pastes an admin token, finds a session that went through a retried delivery and
 * a duplicate webhook, reads its timeline, and replays a dead letter from the page.
 *
 * Chromium: LCG_CHROMIUM, else /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs
 * it). Missing, the tests fail when LCG_BROWSER_TESTS=required (CI) and are skipped with a warning otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { type Browser, chromium, type Page } from "playwright-core"
import { eventually } from "../eventually.js"
import { type Gateway, livechatRequest, startGateway } from "./harness.js"

const executablePath = process.env["LCG_CHROMIUM"] ?? "/usr/bin/chromium"
const required = process.env["LCG_BROWSER_TESTS"] === "required"
const haveChromium = existsSync(executablePath)
if (!haveChromium && !required) {
  console.warn(
    `\n*** SKIPPED: the operator console's browser tests: no Chromium at ${executablePath} ` +
      "(apt-get install -y chromium, or set LCG_CHROMIUM; LCG_BROWSER_TESTS=required makes this a failure) ***\n"
  )
}

let browser: Browser | undefined

beforeAll(async () => {
  if (!haveChromium) {
    if (required) {
      throw new Error(
        `LCG_BROWSER_TESTS=required, but there is no Chromium at ${executablePath}: apt-get install -y chromium, or set LCG_CHROMIUM`
      )
    }
    return
  }
  browser = await chromium.launch({ executablePath })
}, 60_000)

afterAll(async () => {
  await browser?.close()
})

/** A page of the console in a fresh context (its own session storage), with the admin token pasted. */
const openConsole = (gw: Gateway, token: string) =>
  Effect.gen(function*() {
    const context = yield* Effect.acquireRelease(
      Effect.promise(() => browser!.newContext()),
      (context) => Effect.promise(() => context.close())
    )
    const page = yield* Effect.promise(() => context.newPage())
    yield* Effect.promise(async () => {
      await page.goto(`${gw.url}/admin/console`)
      await page.fill("#token", token)
      await page.click("text=Use token")
    })
    return page
  })

const textOf = (page: Page, selector: string) => Effect.promise(() => page.locator(selector).innerText())

/** Waits until the element's text contains `text`. */
const showing = (page: Page, selector: string, text: string) =>
  Effect.promise(() => page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: 5000 }))

/**
 * A helvia livechat whose agent.joined was refused once by hbf-bot (503, delivered on the second
 * attempt) and whose CONVERSATION_BEGIN webhook hbf-lcm posted twice, then an agent.message
 * hbf-bot refused for good (400): a dead letter.
 */
const troubledSession = (gw: Gateway, subHandle: string) =>
  Effect.gen(function*() {
    const sessionId: string = (yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", subHandle))).body
      .sessionId
    yield* gw.bot.waitFor((events) => events.some((e) => e.sessionId === sessionId))
    gw.bot.failNext(1, 503)
    const joined = yield* gw.lcm.join(sessionId)
    yield* gw.bot.waitFor((events) => events.some((e) => e.sessionId === sessionId && e.type === "agent.joined"))
    yield* gw.lcm.resend(joined.eventId)
    const stop = gw.bot.failWhile((e) => e.sessionId === sessionId && e.type === "agent.message", 400)
    yield* gw.lcm.say(sessionId, "a message hbf-bot refuses")
    const admin = yield* gw.token({ scope: "admin" })
    yield* eventually(
      "the message is dead-lettered",
      gw.call("GET", "/admin/dead-letters", undefined, { authorization: `Bearer ${admin}` }),
      (answer) => answer.body.length === 1
    )
    stop()
    return { sessionId, admin }
  })

describe.skipIf(!haveChromium && !required)("operator console in Chromium", () => {
  it.live(
    "finds a session by id and by subscriber, replays a dead letter from the page, shows the cluster",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway()
        // A handle with markup: shown as text, never run.
        const subHandle = `<img src=x onerror="window.__injected=1">`
        const { admin, sessionId } = yield* troubledSession(gw, subHandle)
        const page = yield* openConsole(gw, admin)
        expect(yield* textOf(page, "#token-state")).toBe("token set for this tab")

        yield* Effect.promise(async () => {
          await page.fill("#find-session", sessionId)
          await page.click("#find-form button[type=submit]")
        })
        yield* showing(page, "#session-record", `Session ${sessionId}`)
        const record = yield* textOf(page, "#session-record")
        expect(record).toContain("demo-helvia")
        expect(record).toContain("active")
        expect(record).toContain(subHandle)

        // By subscriber (and tenant): the same session.
        yield* Effect.promise(async () => {
          await page.reload()
          await page.fill("#find-subscriber", subHandle)
          await page.fill("#find-tenant", "demo-helvia")
          await page.click("#find-form button[type=submit]")
        })
        yield* showing(page, "#session-record", `Session ${sessionId}`)
        expect(yield* Effect.promise(() => page.locator("#session-record img").count())).toBe(0)
        expect(yield* Effect.promise(() => page.evaluate("window.__injected"))).toBe(
          undefined
        )

        // The dead letter, replayed from the page: the answer says what was replayed, the list is empty, hbf-bot has it.
        yield* Effect.promise(() => page.click("#dead-letters-load"))
        yield* showing(page, "#dead-letters", "agent.message")
        expect(yield* textOf(page, "#dead-letters")).toContain("hbf-bot answered 400")
        yield* Effect.promise(() => page.click("#dead-letters button:text('Replay')"))
        yield* showing(page, "#replay-result", `Replayed agent.message`)
        expect(yield* textOf(page, "#replay-result")).toContain(sessionId)
        yield* showing(page, "#dead-letters", "No dead letters.")
        yield* gw.bot.waitFor((events) => events.some((e) => e.sessionId === sessionId && e.type === "agent.message"))

        yield* Effect.promise(() => page.click("#cluster-load"))
        yield* showing(page, "#cluster", "leader")
        expect(yield* textOf(page, "#cluster")).toContain("single-node")

        // The token is in this tab's session storage only.
        const stored = yield* Effect.promise(() =>
          page.evaluate("({ session: sessionStorage.length, local: localStorage.length, cookies: document.cookie })")
        )
        expect(stored).toEqual({ session: 1, local: 0, cookies: "" })
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "says why a call failed: no token, a token without admin scope, an unknown session",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway()
        const page = yield* openConsole(gw, yield* gw.token())
        yield* Effect.promise(() => page.click("#dead-letters-load"))
        yield* showing(page, "#message", "may not use the admin API (403)")

        yield* Effect.promise(async () => {
          await page.click("#forget-token")
          await page.click("#cluster-load")
        })
        yield* showing(page, "#message", "Paste an admin token first.")
        expect(yield* Effect.promise(() => page.evaluate("sessionStorage.length"))).toBe(0)

        yield* Effect.promise(async () => {
          await page.fill("#token", "not-a-token")
          await page.click("text=Use token")
          await page.click("#cluster-load")
        })
        yield* showing(page, "#message", "refused the token (401)")

        const admin = yield* gw.token({ scope: "admin" })
        yield* Effect.promise(async () => {
          await page.fill("#token", admin)
          await page.click("text=Use token")
          await page.fill("#find-session", "nope")
          await page.click("#find-form button[type=submit]")
        })
        yield* showing(page, "#message", "Not found (404): session nope does not exist")
      }).pipe(Effect.scoped),
    60_000
  )

  // ---- WAITS FOR THE MERGE of the timeline write points (issue 26's other branches) ----
  // Nothing records timeline entries on this branch: these assertions fail here until the
  // write points (deliveries and their retries, dropped duplicates, replays, created/state)
  // and the `GET /admin/sessions?tenantId=&status=` listing are merged. Check them after the merge.
  it.live(
    "[after merge] the timeline shows the retried delivery, the dropped duplicate and the replay, in their lanes",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway()
        const { admin, sessionId } = yield* troubledSession(gw, "tl-browser")
        const page = yield* openConsole(gw, admin)
        yield* Effect.promise(async () => {
          await page.fill("#find-session", sessionId)
          await page.click("#find-form button[type=submit]")
        })
        yield* showing(page, "#session-record", `Session ${sessionId}`)
        const entries = (selector: string) => Effect.promise(() => page.locator(selector).allInnerTexts())

        // [after merge] created and the state change, in the gateway's lane.
        expect((yield* entries(".lane-gateway .entry[data-kind=created]")).join()).toContain("helvia-livechat")
        expect((yield* entries(".lane-gateway .entry[data-kind=state]")).join()).toContain("pending → active")
        // [after merge] agent.joined: attempt 1 refused with 503, attempt 2 delivered, in hbf-bot's lane.
        const deliveries = yield* entries(".lane-hbf-bot .entry[data-kind=delivery]")
        expect(deliveries.some((text) => text.includes("failed to hbf-bot, attempt 1") && text.includes("status 503")))
          .toBe(true)
        expect(deliveries.some((text) => text.includes("delivered to hbf-bot, attempt 2"))).toBe(true)
        // [after merge] the webhook posted twice: the second is dropped as a duplicate, in the provider's lane.
        const dropped = yield* entries(".lane-provider .entry[data-kind='event.dropped']")
        expect(dropped.some((text) => text.includes("duplicate"))).toBe(true)
        expect((yield* entries(".lane-provider .entry[data-kind='event.received']")).join()).toContain("via webhook")
        // [after merge] the dead letter, then (replayed from the page) the replay, in hbf-bot's lane.
        expect((yield* entries(".lane-hbf-bot .entry[data-kind=dead-letter]")).join()).toContain("answered 400")
        yield* Effect.promise(async () => {
          await page.click("#dead-letters-load")
          await page.click("#dead-letters button:text('Replay')")
        })
        yield* showing(page, ".lane-hbf-bot .entry[data-kind=replayed]", "replayed to hbf-bot")

        // [after merge] open sessions of the tenant (GET /admin/sessions): the session, opening its timeline.
        yield* Effect.promise(async () => {
          await page.reload()
          await page.fill("#sessions-tenant", "demo-helvia")
          await page.selectOption("#sessions-status", "active")
          await page.click("#sessions-form button[type=submit]")
        })
        yield* showing(page, "#sessions", sessionId)
        yield* Effect.promise(() => page.click(`#sessions button:text('${sessionId}')`))
        yield* showing(page, "#session-record", `Session ${sessionId}`)
        expect(yield* Effect.promise(() => page.locator(".entry[data-kind=delivery]").count())).toBeGreaterThan(0)
      }).pipe(Effect.scoped),
    60_000
  )
})
