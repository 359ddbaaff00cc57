import { Context, type Effect } from "effect"

/** Where the instance is in its life, for readiness: serving, or draining before it stops. */
export interface LifecycleService {
  readonly draining: Effect.Effect<boolean>
  readonly startDraining: Effect.Effect<void>
}

export class Lifecycle extends Context.Tag("hbf-lcg/Lifecycle")<Lifecycle, LifecycleService>() {}
