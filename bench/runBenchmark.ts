/** How every benchmark runs: warnings and errors only, exit 0 when it finished, 1 (with the error) when not. */
import { Effect, Logger, LogLevel } from "effect"
import { pathToFileURL } from "node:url"

/** Whether this module is the script node was started with (a section run alone), not imported by bench/run.ts. */
export const isMain = (moduleUrl: string) =>
  process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl

export const runBenchmark = <A, E>(program: Effect.Effect<A, E>) =>
  Effect.runPromise(program.pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))).then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
