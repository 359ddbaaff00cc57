import type { Effect } from "effect"
import { Context } from "effect"
import type { SessionRecord } from "../domain/model.js"
import type { StoreUnavailable } from "./errors.js"

export interface SweepResult {
  readonly ended: number
  readonly open: ReadonlyArray<Pick<SessionRecord, "provider" | "status">>
}

/** The tenants' pending and inactivity timeouts, and what comes before them, run by the sweeper. */
export interface TimeoutsService {
  /**
   * Ends the sessions of one partition that are past their tenant's timeouts, and sends the
   * queue figures and warnings due for the others: how many ended, and the provider and status
   * of those still open.
   */
  readonly sweepTimeouts: (partition: number) => Effect.Effect<SweepResult, StoreUnavailable>
}

export class Timeouts extends Context.Tag("hbf-lcg/Timeouts")<Timeouts, TimeoutsService>() {}
