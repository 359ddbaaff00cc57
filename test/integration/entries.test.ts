/**
 * The entry points as processes: the production entry compiled as the image's build stage
 * compiles it (`tsc -p tsconfig.build.json`), and `npm start`'s, run as package.json runs it.
 * The production entry never runs the sandbox, nor contains it; a missing or partial
 * configuration fails at boot with one message, before anything listens; every entry logs one
 * start line.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { connect } from "node:net"
import { freePort, makeSandbox } from "../../sandbox/environment.js"
import { eventually } from "../eventually.js"
import { compiledEntry, environmentOf, sourceEntry, spawnGateway } from "./gatewayProcess.js"
import { deleteKeys, testRedisUrl, uniquePrefix } from "./redis.js"

/** `npm start`'s node arguments, from package.json. */
const [npmStartCommand, ...npmStart] = (JSON.parse(readFileSync("package.json", "utf8")).scripts.start as string).split(
  " "
)

/**
 * Every gateway variable (by prefix, whatever the code's own list says), PORT and the logging
 * ones unset: over this process's environment, a bare one with PATH and the rest kept.
 */
const unsetGatewayVariables: Record<string, undefined> = Object.fromEntries(
  Object.keys(process.env)
    .filter((name) => /^(HBF_|LCG_|REDIS_|CISCO_|ZENDESK_|OTEL_|LOG_|PORT$)/.test(name))
    .map((name) => [name, undefined])
)

const providers = "providers=helvia-livechat,genesys-livechat,cisco-livechat,zendesk"
const memoryWarning =
  "store=memory: sessions and undelivered events live in this process only, a restart loses every session"
const missingHbfVariables = [
  "HBF_CORE_URL",
  "HBF_CORE_API_TOKEN",
  "HBF_LCM_URL",
  "HBF_LCM_TOKEN",
  "HBF_BOT_URL",
  "HBF_EVENT_PUBLISHER_URL"
]
const jwt = /eyJ[\w-]+\.[\w-]+\.[\w-]+/

interface Exited {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly millis: number
  /** Whether a connection to its PORT was ever accepted while it ran. */
  readonly listened: boolean
}

/**
 * Runs node with `args` over `env` (`undefined` unsets a variable) until it exits (killed after
 * 30 s), trying meanwhile every 20 ms to connect to its PORT.
 */
const runToExit = (args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  Effect.async<Exited>((resume) => {
    const started = Date.now()
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let listened = false
    child.stdout.on("data", (chunk: Buffer) => void (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    const probe = setInterval(() => {
      const socket = connect(Number(env["PORT"]), "127.0.0.1")
      socket.once("connect", () => {
        listened = true
        socket.destroy()
      })
      socket.once("error", () => socket.destroy())
    }, 20)
    const limit = setTimeout(() => child.kill("SIGKILL"), 30_000)
    const stop = () => {
      clearInterval(probe)
      clearTimeout(limit)
    }
    child.once("close", (code) => {
      stop()
      resume(Effect.succeed({ code, stdout, stderr, millis: Date.now() - started, listened }))
    })
    return Effect.sync(() => {
      stop()
      child.kill("SIGKILL")
    })
  })

/** The failure every entry must show for a missing configuration: exit 1, soon, one message on stderr, nothing else, never listening. */
const expectConfigurationFailure = (exited: Exited, missing: ReadonlyArray<string>) => {
  expect(exited.code).toBe(1)
  expect(exited.millis).toBeLessThan(15_000)
  expect(exited.listened).toBe(false)
  expect(exited.stdout).toBe("")
  expect(exited.stderr.match(/invalid configuration:/g)).toHaveLength(1)
  for (const name of missing) expect(exited.stderr).toContain(`${name}: missing`)
  const output = exited.stdout + exited.stderr
  expect(output).not.toMatch(/sandbox/i)
  expect(output).not.toMatch(jwt)
}

class CompiledEntry extends Context.Tag("test/CompiledEntry")<CompiledEntry, ReadonlyArray<string>>() {}

layer(Layer.scoped(CompiledEntry, compiledEntry), { excludeTestServices: true, timeout: "120 seconds" })(
  "the production entry (node dist/main.js), compiled as the image's build stage compiles it",
  (it) => {
    it.effect(
      "with a bare environment: exit 1 within seconds, one message naming every missing variable, no token, nothing listening",
      () =>
        Effect.gen(function*() {
          const entry = yield* CompiledEntry
          const exited = yield* runToExit(entry, { ...unsetGatewayVariables, PORT: String(yield* freePort) })
          expectConfigurationFailure(exited, missingHbfVariables)
          expect(exited.stderr).toContain("Expected LCG_JWT_SECRET or LCG_JWKS_URL")
          expect(exited.stderr).toContain(
            "Expected HBF_BOT_SIGNING_SECRET (events to hbf-bot are signed; HBF_BOT_SIGNING=off sends them unsigned)"
          )
          expect(exited.stderr).toContain("REDIS_URL: missing")
          expect(exited.millis).toBeLessThan(10_000)
        }),
      60_000
    )

    it.effect(
      "with NODE_ENV=production and LCG_JWT_SECRET only: exit 1 naming the six hbf-* variables; npm start, given the same, fails with the same message",
      () =>
        Effect.gen(function*() {
          const entry = yield* CompiledEntry
          const env = {
            ...unsetGatewayVariables,
            NODE_ENV: "production",
            LCG_JWT_SECRET: "entry-test-secret",
            PORT: String(yield* freePort)
          }
          const compiled = yield* runToExit(entry, env)
          expectConfigurationFailure(compiled, missingHbfVariables)
          expect(compiled.stderr).not.toContain("LCG_JWT")
          expect(compiled.stderr).not.toContain("entry-test-secret")

          // A partial configuration for npm start: the production program, never the sandbox.
          expect(npmStartCommand).toBe("node")
          const started = yield* runToExit(npmStart, env)
          expectConfigurationFailure(started, missingHbfVariables)
          expect(started.stderr).toBe(compiled.stderr)
        }),
      60_000
    )

    it.effect(
      "with a configuration: one start line (production, memory, its instance id, every provider) and the memory-store warning; no secret",
      () =>
        Effect.gen(function*() {
          const entry = yield* CompiledEntry
          const sandbox = yield* makeSandbox({})
          const configured = environmentOf(sandbox.config)
          const gateway = yield* spawnGateway(
            { ...unsetGatewayVariables, ...configured, LOG_LEVEL: "info", LCG_INSTANCE_ID: "entry-test-1" },
            [],
            entry
          )
          const output = yield* eventually("the start line", Effect.sync(gateway.output), (o) =>
            o.includes(memoryWarning))
          expect(output).toContain(
            `hbf-lcg listening: port=${sandbox.config.port} mode=production store=memory instanceId=entry-test-1 ${providers}`
          )
          expect(output.match(/hbf-lcg listening/g)).toHaveLength(1)
          for (
            const secret of [
              configured["LCG_JWT_SECRET"]!,
              configured["HBF_CORE_API_TOKEN"]!,
              configured["HBF_LCM_TOKEN"]!
            ]
          ) {
            expect(output).not.toContain(secret)
          }
        }).pipe(Effect.scoped),
      60_000
    )

    it.effect(
      "a configuration without a store: exit 1 naming REDIS_URL, with LCG_STORE=redis too; an unknown LCG_STORE named with its values; npm start fails alike, never the sandbox",
      () =>
        Effect.gen(function*() {
          const entry = yield* CompiledEntry
          const sandbox = yield* makeSandbox({})
          // The configuration the start-line test runs, but for its LCG_STORE=memory.
          const { LCG_STORE: memory, ...configured } = environmentOf(sandbox.config)
          expect(memory).toBe("memory")
          const env = { ...unsetGatewayVariables, ...configured }
          const missingRedis =
            "REDIS_URL: missing: the store is Redis unless LCG_STORE=memory (in this process only: a restart loses every session)"
          const compiled = yield* runToExit(entry, env)
          expectConfigurationFailure(compiled, [])
          expect(compiled.stderr).toBe(`invalid configuration:\n  ${missingRedis}\n`)
          const redis = yield* runToExit(entry, { ...env, LCG_STORE: "redis" })
          expectConfigurationFailure(redis, [])
          expect(redis.stderr).toBe(compiled.stderr)
          const unknown = yield* runToExit(entry, { ...env, LCG_STORE: "disk" })
          expectConfigurationFailure(unknown, [])
          expect(unknown.stderr).toContain("LCG_STORE: Expected one of (redis, memory) but received \"disk\"")

          const started = yield* runToExit(npmStart, env)
          expectConfigurationFailure(started, [])
          expect(started.stderr).toBe(compiled.stderr)
        }).pipe(Effect.scoped),
      60_000
    )

    it.effect("has no sandbox in it: no file of sandbox/, no import of one", () =>
      Effect.gen(function*() {
        const [main] = yield* CompiledEntry
        const outDir = main!.slice(0, main!.lastIndexOf("/"))
        const files = readdirSync(outDir, { recursive: true, encoding: "utf8" })
        expect(files).toContain("main.js")
        expect(files).toContain("app/App.js")
        expect(files.filter((file) => file.includes("sandbox"))).toEqual([])
        const imports = files
          .filter((file) => file.endsWith(".js"))
          .flatMap((file) =>
            [...readFileSync(`${outDir}/${file}`, "utf8").matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((
              m
            ) => m[1]!)
          )
        expect(imports).toContain("./app/program.js")
        expect(imports.filter((specifier) => specifier.includes("sandbox"))).toEqual([])
      }))
  }
)

describe("npm start", () => {
  it.live(
    "with no gateway variable: the sandbox answers /health/ready, prints its walkthrough, the start line (sandbox, memory) and the memory-store warning",
    () =>
      Effect.gen(function*() {
        // spawnGateway runs npm start's command.
        expect(npmStart).toEqual(["--max-semi-space-size=64", ...sourceEntry])
        const port = yield* freePort
        const gateway = yield* spawnGateway({ ...unsetGatewayVariables, PORT: String(port) })
        const output = yield* eventually(
          "the start line",
          Effect.sync(gateway.output),
          (o) => o.includes(memoryWarning)
        )
        expect(output).toContain("hbf-lcg sandbox is running")
        expect(output).toMatch(new RegExp(`export TOKEN=${jwt.source}`))
        expect(output).toContain(
          `hbf-lcg listening: port=${port} mode=sandbox store=memory instanceId=sandbox-${gateway.pid} ${providers}`
        )
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "with a configuration on Redis: runs it as the image would (start line: production, redis), no sandbox, no memory-store warning",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix("entry")
        yield* Effect.addFinalizer(() => Effect.promise(() => deleteKeys(prefix)))
        const sandbox = yield* makeSandbox({})
        const configured = environmentOf({ ...sandbox.config, redis: { url: Redacted.make(testRedisUrl), prefix } })
        const gateway = yield* spawnGateway({
          ...unsetGatewayVariables,
          ...configured,
          LOG_LEVEL: "info",
          LCG_INSTANCE_ID: "entry-test-2"
        })
        const output = yield* eventually("the start line", Effect.sync(gateway.output), (o) =>
          o.includes("hbf-lcg listening"))
        expect(output).toContain(
          `hbf-lcg listening: port=${sandbox.config.port} mode=production store=redis instanceId=entry-test-2 ${providers}`
        )
        expect(output).not.toContain("store=memory")
        expect(output).not.toMatch(/sandbox is running|export TOKEN/)
        expect(output).not.toContain(testRedisUrl)
      }).pipe(Effect.scoped),
    60_000
  )
})
