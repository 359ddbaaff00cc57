/** hbf-event-publisher over HTTP (docs/CONTRACTS.md#hbf-event-publisher). */
import { Effect, Layer } from "effect"
import { outboundClient } from "../infra/outbound.js"
import { AppConfig } from "../services/AppConfig.js"
import { EventPublisher } from "../services/EventPublisher.js"
import { deliveryFailure } from "./delivery.js"

export const EventPublisherHttp = Layer.effect(
  EventPublisher,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const client = yield* outboundClient({
      baseUrl: config.eventPublisherUrl,
      bearer: config.hbfCore.token
    })
    return EventPublisher.of({
      // perf: docs/ARCHITECTURE.md#perf-fiber-ops
      triggerFlow: (flowId, event) =>
        client.call(
          {
            method: "POST",
            path: "/connectors/flows:trigger",
            json: {
              tenantId: event.tenantId,
              flowId,
              subHandle: event.subHandle,
              event: { type: event.type, sessionId: event.sessionId, data: event.data }
            }
          },
          deliveryFailure("event-publisher")
        )
    })
  })
)
