/** What the simulators send: webhooks to the gateway. */
import { Effect } from "effect"

/**
 * One POST of exactly these bytes: the answer's status and text, or the failure when none came
 * (refused, reset, timed out after `timeoutMs`). A webhook sender follows no redirect.
 */
export const postOnce = (
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
  timeoutMs: number
): Effect.Effect<{ readonly status: number; readonly text: string }, unknown> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
      })
      return { status: response.status, text: await response.text() }
    },
    catch: (cause) => cause
  })
