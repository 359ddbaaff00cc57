/** How every benchmark runs: warnings and errors only, exit 0 when it finished, 1 (with the error) when not. */
import { Effect, Logger, LogLevel } from "effect"

export const runBenchmark = <A, E>(program: Effect.Effect<A, E>) =>
  Effect.runPromise(program.pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))).then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
