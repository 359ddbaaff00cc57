/**
 * Polls every open CCP chat (PROVIDERS.md "Cisco": poll at least every 5 s), on the shared
 * session pollers (../sessionPoller.ts): a poll asks for the events after the stored
 * cursor and commits them with the new cursor; a user message or a new chat asks for a
 * poll at once.
 */
import { Duration, Effect, Layer } from "effect"
import type { SessionRecord } from "../../domain/model.js"
import type { CiscoConfig } from "../../domain/tenant.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Gateway, type GatewayService } from "../../services/Gateway.js"
import { HbfCore } from "../../services/HbfCore.js"
import { currentConfigOf, type PollFailure, runSessionPollers, type SessionPolling } from "../sessionPoller.js"
import { CiscoApi, type CiscoApiService, isChatGone } from "./client.js"
import { ended, mapCcpEvents } from "./mapper.js"
import { type CiscoChatState, chatStateOf } from "./provider.js"

const alias = "cisco-livechat" as const

export interface ChatPollerDeps {
  readonly api: CiscoApiService
  /** The tenant's CCP config, as hbf-core has it now. */
  readonly configOf: (session: SessionRecord) => Effect.Effect<CiscoConfig, PollFailure>
  readonly ingest: GatewayService["ingestPolled"]
  readonly interval: Duration.Duration
}

/** One CCP chat's polls. A chat CCP no longer knows (its cookie expired, the feed timed it out) is over for the user too. */
export const ciscoPolling = (deps: ChatPollerDeps): SessionPolling<CiscoConfig, CiscoChatState> => ({
  name: "cisco-poller",
  interval: deps.interval,
  configOf: deps.configOf,
  poll: (config, session, state) =>
    Effect.gen(function* () {
      const chatId = session.providerConversationId ?? session.sessionId
      const polled = yield* Effect.either(deps.api.poll(config, state.cookie, state.eventId))
      if (polled._tag === "Left") {
        if (!isChatGone(polled.left)) return yield* Effect.fail({ message: polled.left.message })
        yield* deps.ingest(session.sessionId, [ended(chatId, new Date().toISOString(), "provider")], {})
        yield* Effect.logInfo("the CCP chat is gone; its session ended", { sessionId: session.sessionId, reason: polled.left.message })
        return { state, open: false }
      }
      const events = polled.right
      if (events.length === 0) return { state, open: true }
      const lastId = events[events.length - 1]!.id
      const { open } = yield* deps.ingest(session.sessionId, mapCcpEvents(chatId, state.customer, events, new Date().toISOString()), {
        eventId: lastId
      })
      return { state: { ...state, eventId: lastId }, open }
    })
})

/** Runs the pollers of the CCP chats of the partitions this instance owns. */
export const CiscoPollerLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const core = yield* HbfCore
    const gateway = yield* Gateway
    const api = yield* CiscoApi
    const { ciscoPollIntervalMs } = yield* AppConfig

    yield* runSessionPollers(
      alias,
      chatStateOf,
      ciscoPolling({
        api,
        configOf: (session) => Effect.map(currentConfigOf(core, alias)(session), (config) => config.cisco),
        ingest: gateway.ingestPolled,
        interval: Duration.millis(ciscoPollIntervalMs)
      })
    )
  })
)
