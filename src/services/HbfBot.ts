import type { Duration, Effect, Option } from "effect"
import { Context, Data } from "effect"
import type { LivechatEvent } from "../domain/model.js"

/**
 * A delivery that did not get a 2xx. `permanent` (a 4xx other than 408/429) goes to the
 * dead letters at once; otherwise it is retried, no sooner than `retryAfter` when given.
 * `status` is the target's answer, when it answered (the session's timeline shows it).
 */
export class DeliveryFailure extends Data.TaggedError("DeliveryFailure")<{
  readonly message: string
  readonly permanent: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
  readonly status?: number
}> {}

/** hbf-bot's event endpoint (docs/CONTRACTS.md#hbf-bot): one attempt per call; the worker retries. */
export interface HbfBotService {
  readonly deliver: (event: LivechatEvent) => Effect.Effect<void, DeliveryFailure>
}

export class HbfBot extends Context.Tag("hbf-lcg/HbfBot")<HbfBot, HbfBotService>() {}
