/** How a delivery target's answer is judged (CONTRACTS.md section 6). */
import { Option } from "effect"
import type { DeliveryFailure } from "../services/HbfBot.js"
import { describeOutbound, type OutboundError, retryAfterOf, statusOf } from "./outbound.js"

/** Any 2xx acks; a 4xx other than 408/429 is permanent; everything else is worth retrying. */
export const deliveryFailure = (target: string) => (error: OutboundError): DeliveryFailure => {
  const status = statusOf(error)
  return {
    _tag: "DeliveryFailure",
    message: `${target} ${describeOutbound(error)}`,
    permanent: status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429,
    retryAfter:
      status !== undefined && error._tag === "ResponseError" ? retryAfterOf(error.response) : Option.none()
  }
}
