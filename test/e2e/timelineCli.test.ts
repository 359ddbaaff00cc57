/**
 * `npm run timeline` end to end: the script, run as a process against a sandbox gateway, prints
 * a session's timeline found by session id or by subscriber, and exits 1 with the gateway's
 * word when refused, 2 without a token.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { main } from "../../scripts/timeline.js"
import { livechatRequest, startGateway } from "./harness.js"

/** The script as `npm run timeline` runs it (tsx), with only the environment given. */
const timeline = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(() =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "scripts/timeline.ts", ...args],
        { env: { PATH: process.env["PATH"] ?? "", ...env } },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
      )
    })
  )

describe("npm run timeline", () => {
  it.live(
    "prints a session's timeline by id or subscriber; 404 and 403 exit 1 with the gateway's word; no token exits 2",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway()
        const env = { LCG_URL: gw.url, LCG_ADMIN_TOKEN: yield* gw.token({ scope: "admin" }) }
        const sessionId: string = (yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "tess"))).body
          .sessionId

        // As a process: what `npm run timeline` prints, and its exit codes.
        const [byId, unknown] = yield* Effect.all([
          timeline([sessionId], env),
          timeline(["00000000-0000-4000-8000-000000000000"], env)
        ], { concurrency: "unbounded" })
        expect(byId.code, byId.stderr).toBe(0)
        expect(byId.stdout).toMatch(new RegExp(`^Timeline of session ${sessionId}: `))
        // Not a terminal: no colors.
        expect(byId.stdout).not.toContain("\u001b[")
        expect(unknown).toMatchObject({
          code: 1,
          stdout: "",
          stderr: "404: session 00000000-0000-4000-8000-000000000000 does not exist\n"
        })

        // The rest through its main, in this process (a process costs seconds).
        const run = (args: ReadonlyArray<string>, runEnv: Record<string, string>) =>
          Effect.promise(async () => {
            const out: Array<string> = []
            const err: Array<string> = []
            const code = await main(args, runEnv, { out: (t) => out.push(t), err: (t) => err.push(t), color: false })
            return { code, stdout: out.join("\n"), stderr: err.join("\n") }
          })
        const bySubscriber = yield* run(["tess", "--tenant", "demo-helvia"], env)
        expect(bySubscriber.code, bySubscriber.stderr).toBe(0)
        expect(bySubscriber.stdout.split("\n")[0]).toBe(byId.stdout.split("\n")[0])
        const ordinary = yield* run([sessionId], { ...env, LCG_ADMIN_TOKEN: yield* gw.token() })
        expect(ordinary.code).toBe(1)
        expect(ordinary.stderr).toMatch(/^403: /)
        const tokenless = yield* run([sessionId], { LCG_URL: gw.url })
        expect(tokenless.code).toBe(2)
        expect(tokenless.stderr).toContain("LCG_ADMIN_TOKEN is not set")
        expect((yield* run([], env)).code).toBe(2)
      }).pipe(Effect.scoped),
    60_000
  )
})
