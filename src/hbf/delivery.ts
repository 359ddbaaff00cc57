/** How a delivery target's answer is judged (docs/CONTRACTS.md#hbf-bot). */
import { Effect } from "effect"
import type { OutboundError } from "../infra/outbound.js"
import { DeliveryFailure } from "../services/HbfBot.js"

/** Any 2xx acks; a 4xx other than 408/429 is permanent; everything else is worth retrying. As `OutboundClient.call` takes it. */
export const deliveryFailure = (target: string) => (error: OutboundError): Effect.Effect<never, DeliveryFailure> => {
  const status = error.status
  return Effect.fail(
    new DeliveryFailure({
      message: `${target} ${error.detail}`,
      permanent: status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429,
      retryAfter: error.retryAfter,
      ...(status !== undefined ? { status } : {})
    })
  )
}
