import type { Effect } from "effect"
import { Context } from "effect"
import type { LivechatEvent } from "../domain/model.js"
import type { DeliveryFailure } from "./HbfBot.js"

/** hbf-event-publisher (CONTRACTS.md section 7): one attempt per call; the worker retries. */
export interface EventPublisherService {
  readonly triggerFlow: (flowId: string, event: LivechatEvent) => Effect.Effect<void, DeliveryFailure>
}

export class EventPublisher extends Context.Tag("hbf-lcg/EventPublisher")<EventPublisher, EventPublisherService>() {}
