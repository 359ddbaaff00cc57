/**
 * A pending request's queue figures (docs/ARCHITECTURE.md#queue-figures): the provider's
 * estimated wait where it tells one, else the gateway's estimate; the position is the
 * request's rank among its tenant's pending requests of the same queue, across the cluster.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { ProviderEvent, SessionRecord } from "../domain/model.js"
import {
  type AssignmentHistory,
  ESTIMATE_WINDOW_SECONDS,
  estimateWait,
  type QueueFigures,
  waitingSince
} from "../domain/queueEstimate.js"
import type { LivechatConfig } from "../domain/tenant.js"
import type { StoreUnavailable } from "../services/errors.js"
import type { LivechatProvider } from "../services/LivechatProvider.js"
import type { SessionStoreService } from "../services/SessionStore.js"

/** How long a provider's figures are waited for; then the gateway's are told. */
const PROVIDER_FIGURES_TIMEOUT = Duration.seconds(2)

/** The tenant's recent assignments, as the estimate reads them. */
export type HistoryOf = (tenantId: string) => Effect.Effect<AssignmentHistory, StoreUnavailable>

/** The tenant's waiting stats of the last ESTIMATE_WINDOW_SECONDS: its recent assignments, and its requests waiting now. */
export const recentWaiting = (store: SessionStoreService, tenantId: string) =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (now) =>
      Effect.map(store.waitingStats(tenantId, now - ESTIMATE_WINDOW_SECONDS * 1000), (stats) => ({
        history: {
          windowSeconds: ESTIMATE_WINDOW_SECONDS,
          assigned: stats.assigned,
          averageWaitSeconds: stats.averageSeconds
        },
        pending: stats.pending
      }))
  )

/** The store's waiting stats of the last ESTIMATE_WINDOW_SECONDS, as the estimate reads them. */
export const assignmentHistory = (store: SessionStoreService): HistoryOf => (tenantId) =>
  Effect.map(recentWaiting(store, tenantId), ({ history }) => history)

/**
 * The figures of a pending session, none when nothing is known. A provider's figures are
 * best effort (its failure leaves the gateway's); `source` names where the wait came from,
 * and the two sources' waits are never mixed.
 */
export const figuresOf = (store: SessionStoreService, historyOf: HistoryOf) =>
(
  session: SessionRecord,
  provider: LivechatProvider,
  config: LivechatConfig
): Effect.Effect<QueueFigures | undefined, StoreUnavailable> =>
  Effect.gen(function*() {
    const rank = Option.getOrUndefined(yield* store.queuePosition(session))
    const told = provider.queueFigures === undefined
      ? undefined
      : yield* provider.queueFigures({ session, config }).pipe(
        // A slow provider must not hold the sweep of the partition (nor a create) up: its figures are best effort.
        Effect.timeoutFail({
          duration: PROVIDER_FIGURES_TIMEOUT,
          onTimeout: () => ({ message: `no answer within ${Duration.format(PROVIDER_FIGURES_TIMEOUT)}` })
        }),
        Effect.catchAll((e) =>
          Effect.as(
            Effect.logDebug("no queue figures from the provider", { sessionId: session.sessionId, reason: e.message }),
            undefined
          )
        )
      )
    const position = told?.position ?? rank
    if (told?.estimatedWaitSeconds !== undefined) {
      return {
        ...(position !== undefined ? { position } : {}),
        estimatedWaitSeconds: told.estimatedWaitSeconds,
        source: "provider" as const
      }
    }
    if (position === undefined) return undefined
    const now = yield* Clock.currentTimeMillis
    const estimate = estimateWait(
      position,
      yield* historyOf(session.tenantId),
      Math.max(0, (now - waitingSince(session)) / 1000)
    )
    return {
      position,
      ...(estimate !== undefined ? { estimatedWaitSeconds: estimate } : {}),
      source: "gateway" as const
    }
  })

/** The `request.queued` that tells `figures` as the session's event `seq`: each update has an id of its own. */
export const queuedEvent = (
  session: SessionRecord,
  seq: number,
  figures: QueueFigures,
  occurredAt: string
): ProviderEvent => ({
  id: `${session.sessionId}:queued:${seq}`,
  occurredAt,
  type: "request.queued",
  data: figures
})
