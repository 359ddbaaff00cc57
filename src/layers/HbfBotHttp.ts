/** hbf-bot over HTTP: one event per call, signed when HBF_BOT_SIGNING_SECRET is set. */
import { Effect, Layer, Option, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { AppConfig } from "../services/AppConfig.js"
import { HbfBot } from "../services/HbfBot.js"
import { deliveryFailure } from "./delivery.js"
import { outboundClient } from "./outbound.js"

export const HbfBotHttp = Layer.effect(
  HbfBot,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const client = yield* outboundClient({ baseUrl: config.hbfBot.url })
    const secret = Option.fromNullable(config.hbfBot.signingSecret)
    const failure = deliveryFailure("hbf-bot")
    return HbfBot.of({
      deliver: (event) => {
        const body = JSON.stringify(event)
        const signed = Option.match(secret, {
          onNone: () => ({}),
          onSome: (s) => ({
            "x-lcg-signature": `sha256=${createHmac("sha256", Redacted.value(s)).update(body).digest("hex")}`
          })
        })
        return client.call({ method: "POST", path: "/livechat-events", text: body, headers: signed }, failure)
      }
    })
  })
)
