/** Waiting in tests for something that happens in the background. */
import { Duration, Effect } from "effect"

/** Polls until `check` holds, failing with `what` after `timeout`. */
export const eventually = <A>(
  what: string,
  probe: Effect.Effect<A>,
  check: (a: A) => boolean,
  timeout = Duration.seconds(10)
) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(timeout)
    for (;;) {
      const value = yield* probe
      if (check(value)) return value
      if (Date.now() > deadline) {
        return yield* Effect.dieMessage(
          `${what}: not within ${Duration.format(timeout)}: ${JSON.stringify(value).slice(0, 500)}`
        )
      }
      yield* Effect.sleep(Duration.millis(100))
    }
  })
