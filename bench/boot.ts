/**
 * `npm start`'s boot: from the command to the sandbox answering `/health/ready` 200 (every
 * simulator and the gateway up), as a new user waits for it. Each run is a fresh process on a
 * free port; the median of the runs is the figure.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { freePort } from "../sandbox/environment.js"
import { median } from "./measure.js"
import { isMain, runBenchmark } from "./runBenchmark.js"

const READY_WITHIN_MS = 60_000

/** Milliseconds from spawning `npm start` to its first 200 on /health/ready. */
const bootOnce = Effect.gen(function*() {
  const port = yield* freePort
  const startedAt = performance.now()
  const child = spawn("npm", ["start"], {
    env: { ...process.env, PORT: String(port) },
    stdio: "ignore",
    // Its own process group, so that npm, node and everything under them stop together.
    detached: true
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => process.kill(-child.pid!, "SIGKILL")))
  return yield* Effect.promise(async () => {
    while (performance.now() - startedAt < READY_WITHIN_MS) {
      const status = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status, () => 0)
      if (status === 200) return Math.round(performance.now() - startedAt)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`npm start was not ready within ${READY_WITHIN_MS} ms`)
  })
}).pipe(Effect.scoped)

export const sandboxBoot = (runs: number) =>
  Effect.map(
    Effect.forEach(Array.from({ length: runs }), () => bootOnce),
    (ms) => ({ runsMs: ms, medianMs: median(ms) })
  )

if (isMain(import.meta.url)) {
  void runBenchmark(Effect.tap(sandboxBoot(3), (result) => Effect.sync(() => console.log(result))))
}
