/** Scripted misbehaviour: "the next n requests (or events) get this". */
import { Effect, Option } from "effect"
import { type Reject, reject } from "./answers.js"

export interface Countdown<A = void> {
  /** The next `n` (floored, at least 0) get `treatment`, replacing what was scripted before. */
  readonly arm: (n: number, treatment: A) => void
  /** The treatment due now, if any and if it `applies`: that uses one up. */
  readonly take: (applies?: (treatment: A) => boolean) => Option.Option<A>
}

export const makeCountdown = <A = void>(): Countdown<A> => {
  let remaining = 0
  let scripted: Option.Option<A> = Option.none()
  return {
    arm: (n, treatment) => {
      remaining = Math.max(0, Math.floor(n))
      scripted = Option.some(treatment)
    },
    take: (applies) => {
      if (remaining <= 0 || (applies !== undefined && Option.exists(scripted, (treatment) => !applies(treatment)))) {
        return Option.none()
      }
      remaining -= 1
      return scripted
    }
  }
}

/** Scripted failures of an hbf-* service, answered `{ error: "SimulatedFailure", message }`. */
export interface FailureScript {
  /** The next `n` requests answer `status` (with `Retry-After` when given). */
  readonly failNext: (n: number, status: number, retryAfterSeconds?: number) => void
  /** The scripted answer for this request, if one is due (uses it up). */
  readonly take: () => Effect.Effect<void, Reject>
}

export const makeFailureScript = (service: string): FailureScript => {
  const countdown = makeCountdown<{ readonly status: number; readonly retryAfterSeconds: number | undefined }>()
  return {
    failNext: (n, status, retryAfterSeconds) => countdown.arm(n, { status, retryAfterSeconds }),
    take: () =>
      Effect.suspend(() => {
        const due = countdown.take()
        if (Option.isNone(due)) return Effect.void
        const { status, retryAfterSeconds } = due.value
        return reject(
          status,
          "SimulatedFailure",
          `${service} simulator: scripted ${status} (failNext)`,
          undefined,
          retryAfterSeconds !== undefined ? { "retry-after": String(retryAfterSeconds) } : undefined
        )
      })
  }
}
