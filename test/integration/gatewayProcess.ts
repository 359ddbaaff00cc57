/**
 * The gateway as a separate process (as `npm start` runs it, or the compiled entry point),
 * configured through its environment like a deployment, so a test can kill -9 it and start it again.
 */
import { Duration, Effect, Redacted, Schedule } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import type { AppConfigValues } from "../../src/services/AppConfig.js"

/** The environment (README.md#configuration) that makes `npm start` run with `config`. */
export const environmentOf = (config: AppConfigValues): Record<string, string | undefined> => ({
  PORT: String(config.port),
  LCG_PUBLIC_URL: config.publicUrl,
  LCG_JWT_SECRET: Redacted.value(config.jwt.secret!),
  HBF_CORE_URL: config.hbfCore.url,
  HBF_CORE_API_TOKEN: Redacted.value(config.hbfCore.token),
  HBF_LCM_URL: config.hbfLcm.url,
  HBF_LCM_TOKEN: Redacted.value(config.hbfLcm.token),
  HBF_BOT_URL: config.hbfBot.url,
  ...(config.hbfBot.signingSecret !== undefined
    ? { HBF_BOT_SIGNING_SECRET: Redacted.value(config.hbfBot.signingSecret) }
    : { HBF_BOT_SIGNING: "off", HBF_BOT_SIGNING_SECRET: undefined }),
  HBF_EVENT_PUBLISHER_URL: config.eventPublisherUrl,
  LCG_PROVIDER_ALLOW_INSECURE: String(config.providerEgress.allowInsecure),
  LCG_PROVIDER_ALLOW_PRIVATE: String(config.providerEgress.allowPrivate),
  ...(config.providerEgress.hosts.length > 0 ? { LCG_PROVIDER_HOSTS: config.providerEgress.hosts.join(",") } : {}),
  LCG_PARTITIONS: String(config.partitions),
  CISCO_POLL_INTERVAL_MS: String(config.ciscoPollIntervalMs),
  ZENDESK_POLL_INTERVAL_MS: String(config.zendeskPollIntervalMs),
  LOG_LEVEL: "warn",
  // Tests stop instances at once unless they test the drain.
  LCG_SHUTDOWN_DRAIN_MS: "0",
  // Without Redis, the memory store asked for explicitly (never Redis through a REDIS_URL in this process's environment).
  ...(config.redis !== undefined
    ? { REDIS_URL: Redacted.value(config.redis.url), LCG_REDIS_PREFIX: config.redis.prefix }
    : { LCG_STORE: "memory", REDIS_URL: undefined })
})

export interface GatewayProcess {
  readonly pid: number
  /** Sends the signal and waits for the process to exit; its exit code (null when killed by a signal). */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<number | null>
  /** Sends a signal without waiting (SIGSTOP, SIGCONT). */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Everything it wrote to stderr and stdout so far. */
  readonly output: () => string
}

const exited = (child: ChildProcess) =>
  Effect.async<number | null>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
    child.once("exit", (code) => resume(Effect.succeed(code)))
  })

/**
 * The compiled entry point, as the Docker image's build stage makes it (`tsc -p
 * tsconfig.build.json`), in a directory of its own under the project (so that node finds
 * node_modules) that is removed with the scope.
 */
export const compiledEntry = Effect.acquireRelease(
  Effect.async<ReadonlyArray<string>, Error>((resume) => {
    const outDir = `.test-dist/${randomBytes(4).toString("hex")}`
    execFile(
      process.execPath,
      ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--outDir", outDir],
      (error, stdout) =>
        resume(error !== null ? Effect.fail(new Error(`tsc failed: ${stdout}`)) : Effect.succeed([`${outDir}/main.js`]))
    )
  }),
  ([main]) => Effect.sync(() => rmSync(main!.slice(0, main!.lastIndexOf("/")), { recursive: true, force: true }))
)

/** The sources run with tsx, as `npm start` does (with a configuration it runs the production entry's program). */
export const sourceEntry: ReadonlyArray<string> = ["--import", "tsx", "sandbox/start.ts"]

/**
 * Starts the gateway (`env` over this process's environment, an undefined value unsets a
 * variable; with `nodeArgs` for node itself, e.g. a profiler; `entry`: what node runs, the
 * sources by default, or a compiled `main.js`) and waits until /health/ready answers 200;
 * killed when the scope closes.
 */
export const spawnGateway = (
  env: Record<string, string | undefined>,
  nodeArgs: ReadonlyArray<string> = [],
  entry: ReadonlyArray<string> = sourceEntry
) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      // As `npm start` runs it (package.json), with the same GC sizing as the Docker image.
      // perf: docs/ARCHITECTURE.md#perf-semi-space
      Effect.sync(() =>
        spawn(process.execPath, ["--max-semi-space-size=64", ...nodeArgs, ...entry], {
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.zipRight(Effect.sync(() => child.kill("SIGKILL")), exited(child))
    )
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => void (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => void (output += chunk.toString()))
    const readyUrl = `http://127.0.0.1:${env["PORT"]}/health/ready`
    const probe = () =>
      fetch(readyUrl, { signal: AbortSignal.timeout(1_000) }).then((r) =>
        r.status === 200 ? r.text() : Promise.reject(new Error(`${r.status}`))
      )
    yield* Effect.tryPromise(probe).pipe(
      Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(Duration.seconds(45)))),
      Effect.orElse(() => Effect.dieMessage(`the gateway did not become ready:\n${output}`))
    )
    const gateway: GatewayProcess = {
      pid: child.pid!,
      kill: (signal) => Effect.zipRight(Effect.sync(() => child.kill(signal)), exited(child)),
      signal: (signal) => Effect.sync(() => void child.kill(signal)),
      output: () => output
    }
    return gateway
  })
