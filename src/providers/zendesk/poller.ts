/**
 * The polling backstop of Sunshine sessions (ZENDESK_POLL_INTERVAL_MS, default 30 s), on the
 * shared session pollers (../sessionPoller.ts). Webhooks carry the agent's events; a
 * webhook Sunshine gave up on (or that never arrived) would lose them. Each poll lists the
 * messages after the backstop's own cursor, which only it moves (never past a message it
 * has not read just because a later one came by webhook), and ingests the agent's: one
 * message delivered both ways has one event id, so hbf-bot gets it once. It then reads the
 * conversation: when the Agent Workspace no longer holds it, the hand-back webhook was
 * missed and the session ends.
 */
import { Duration, Effect, Layer, Option } from "effect"
import type { SessionRecord } from "../../domain/model.js"
import { isOpen } from "../../domain/stateMachine.js"
import type { ZendeskConfig } from "../../domain/tenant.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Gateway, type GatewayService } from "../../services/Gateway.js"
import { HbfCore } from "../../services/HbfCore.js"
import { currentConfigOf, type PollFailure, runSessionPollers, type SessionPolling } from "../sessionPoller.js"
import { ZendeskApi, type ZendeskApiService } from "./client.js"
import { agentsHold, handedBack, mapMessage } from "./mapper.js"
import { conversationStateOf, type ZendeskConversationState } from "./provider.js"

const alias = "zendesk" as const

/** Pages read per poll at most (100 messages each); the rest waits for the next poll. */
const MAX_PAGES_PER_POLL = 10

export interface BackstopDeps {
  readonly api: ZendeskApiService
  readonly configOf: (session: SessionRecord) => Effect.Effect<ZendeskConfig, PollFailure>
  readonly ingest: GatewayService["ingestPolled"]
  readonly interval: Duration.Duration
}

export const zendeskPolling = (deps: BackstopDeps): SessionPolling<ZendeskConfig, ZendeskConversationState> => ({
  interval: deps.interval,
  configOf: deps.configOf,
  poll: (config, session, initial) =>
    Effect.gen(function* () {
      const conversationId = session.providerConversationId
      if (conversationId === undefined) return { state: initial, open: true }
      let state = initial
      for (let page = 0; page < MAX_PAGES_PER_POLL; page++) {
        const listed = yield* deps.api.messagesAfter(config, conversationId, state.cursor)
        const last = listed.messages[listed.messages.length - 1]
        if (last === undefined) break
        const { open } = yield* deps.ingest(session.sessionId, listed.messages.flatMap(mapMessage), { cursor: last.id })
        state = { ...state, cursor: last.id }
        if (!open) return { state, open: false }
        if (!listed.meta.hasMore) break
      }
      const conversation = yield* deps.api.conversation(config, conversationId)
      if (agentsHold(conversation)) return { state, open: true }
      yield* Effect.logInfo("the Agent Workspace no longer holds the conversation; the hand-back webhook was missed", {
        sessionId: session.sessionId
      })
      const { open } = yield* deps.ingest(session.sessionId, handedBack(`zendesk:${conversationId}:${session.sessionId}:released`, new Date().toISOString()), {})
      return { state, open }
    })
})

/** Runs the backstop pollers of the Sunshine sessions of the partitions this instance owns. */
export const ZendeskBackstopLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const core = yield* HbfCore
    const gateway = yield* Gateway
    const api = yield* ZendeskApi
    const { zendeskPollIntervalMs } = yield* AppConfig

    yield* runSessionPollers(
      "zendesk-backstop",
      (session) => (session.provider === alias && isOpen(session.status) ? conversationStateOf(session) : Option.none<ZendeskConversationState>()),
      zendeskPolling({
        api,
        configOf: (session) => Effect.map(currentConfigOf(core, alias)(session), (config) => config.zendesk),
        ingest: gateway.ingestPolled,
        interval: Duration.millis(zendeskPollIntervalMs)
      })
    )
  })
)
