/**
 * A Redis server of a test's own (redis-server on a free loopback port, append-only file in
 * a temporary directory), so a test can stop and restart Redis without touching the shared
 * one. A restart reloads the append-only file, as a production Redis with AOF would.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "../../sandbox/environment.js"

export interface RedisServer {
  readonly url: string
  /** SHUTDOWN-like stop (SIGTERM: the AOF is flushed); resolves when the process is gone. */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port and directory; resolves when it accepts connections. */
  readonly start: Effect.Effect<void>
}

const launch = (port: number, dir: string) =>
  Effect.async<ChildProcess, Error>((resume) => {
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) resume(Effect.succeed(child))
    })
    child.once("exit", (code) => resume(Effect.fail(new Error(`redis-server exited (${code}): ${output.slice(-500)}`))))
  })

const terminate = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGTERM")
  })

export const startRedisServer = Effect.gen(function*() {
  const port = yield* freePort
  const dir = mkdtempSync(join(tmpdir(), "lcg-redis-"))
  let child = yield* Effect.orDie(launch(port, dir))
  yield* Effect.addFinalizer(() =>
    terminate(child).pipe(Effect.zipRight(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  )
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    stop: Effect.suspend(() => terminate(child)),
    start: Effect.orDie(Effect.map(launch(port, dir), (started) => void (child = started)))
  }
  return server
})
