import type { Effect } from "effect"
import { Context } from "effect"
import type { LivechatEvent } from "../domain/model.js"
import type { DeliveryFailure } from "./HbfBot.js"

/** hbf-event-publisher (docs/CONTRACTS.md#hbf-event-publisher): one attempt per call; the worker retries. */
export interface EventPublisherService {
  readonly triggerFlow: (flowId: string, event: LivechatEvent) => Effect.Effect<void, DeliveryFailure>
}

export class EventPublisher extends Context.Tag("hbf-lcg/EventPublisher")<EventPublisher, EventPublisherService>() {}
