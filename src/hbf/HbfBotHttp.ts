/**
 * hbf-bot over HTTP: one event per call, signed with HBF_BOT_SIGNING_SECRET (README, "Events
 * to hbf-bot"): `X-LCG-Timestamp` is the attempt's Unix time in seconds and `X-LCG-Signature`
 * is `sha256=<hex HMAC-SHA256 of timestamp + "." + body>`, so a captured event cannot be
 * replayed later with a fresh timestamp. Each attempt is signed anew.
 */
import { Clock, Effect, Layer, Option, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { outboundClient } from "../infra/outbound.js"
import { AppConfig } from "../services/AppConfig.js"
import { HbfBot } from "../services/HbfBot.js"
import { deliveryFailure } from "./delivery.js"

/** The signature headers of `body` sent at `unixSeconds`. */
const botSignatureHeaders = (secret: string, unixSeconds: number, body: string) => {
  const timestamp = String(unixSeconds)
  return {
    "x-lcg-timestamp": timestamp,
    "x-lcg-signature": `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")}`
  }
}

export const HbfBotHttp = Layer.effect(
  HbfBot,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const client = yield* outboundClient({ baseUrl: config.hbfBot.url })
    const secret = Option.map(Option.fromNullable(config.hbfBot.signingSecret), Redacted.value)
    const failure = deliveryFailure("hbf-bot")
    // perf: docs/ARCHITECTURE.md#perf-fiber-ops
    const post = (body: string, headers: Record<string, string>) =>
      client.call({ method: "POST", path: "/livechat-events", text: body, headers }, failure)
    return HbfBot.of({
      deliver: (event) => {
        const body = JSON.stringify(event)
        return Option.match(secret, {
          onNone: () => post(body, {}),
          onSome: (s) =>
            Effect.flatMap(
              Clock.currentTimeMillis,
              (now) => post(body, botSignatureHeaders(s, Math.floor(now / 1000), body))
            )
        })
      }
    })
  })
)
