/**
 * The tenant's warnings before its timeouts (docs/CONTRACTS.md#hbf-bot): when each is due for a
 * session, and what it says. Pure: the sweeper decides on the record it commits against.
 */
import type { SessionRecord } from "./model.js"
import { waitingSince } from "./queueEstimate.js"
import type { LivechatConfig } from "./tenant.js"

type Timeouts = LivechatConfig["timeouts"]

/** `request.wait-warning`'s data when a pending request has waited `waitWarningSeconds` and was never warned. */
export const waitWarningDue = (session: SessionRecord, timeouts: Timeouts, now: number) => {
  if (session.status !== "pending" || session.waitWarnedAt !== undefined) return undefined
  if (timeouts.waitWarningSeconds === undefined) return undefined
  const waitedSeconds = Math.floor((now - waitingSince(session)) / 1000)
  if (waitedSeconds < timeouts.waitWarningSeconds) return undefined
  return {
    waitedSeconds,
    ...(session.position !== undefined ? { position: session.position } : {}),
    ...(session.estimatedWaitSeconds !== undefined ? { estimatedWaitSeconds: session.estimatedWaitSeconds } : {})
  }
}

/**
 * `session.inactivity-warning`'s data when an active session is within `inactivityWarningSeconds`
 * of its inactivity close and was not warned for this idle stretch (the activity it ends at).
 */
export const inactivityWarningDue = (session: SessionRecord, timeouts: Timeouts, now: number) => {
  if (session.status !== "active" || timeouts.inactivityWarningSeconds === undefined) return undefined
  if (session.inactivityWarnedFor === session.lastActivityAt) return undefined
  const endsAt = Date.parse(session.lastActivityAt) + timeouts.inactivitySeconds * 1000
  if (now < endsAt - timeouts.inactivityWarningSeconds * 1000) return undefined
  return { endsAt: new Date(endsAt).toISOString() }
}
