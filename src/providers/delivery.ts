/** What a provider's `sendMessage` makes of a user message (`MessageDelivery`), from its capabilities. */
import type { Capabilities, MessageDelivery } from "../domain/model.js"
import type { UserMessage } from "../services/LivechatProvider.js"

const attachmentsFate = {
  native: "native",
  "as-links": "as-links",
  none: "dropped"
} as const satisfies Record<Capabilities["userAttachments"], MessageDelivery["attachments"]>

/** `message` delivered in `parts` messages, its attachments (absent when it has none) as the provider carries them. */
export const deliveryOf = (capabilities: Capabilities, message: UserMessage, parts: number): MessageDelivery =>
  message.attachments !== undefined && message.attachments.length > 0
    ? { attachments: attachmentsFate[capabilities.userAttachments], parts }
    : { parts }
