/**
 * The polling backstop of Sunshine sessions (ZENDESK_POLL_INTERVAL_MS, default 30 s), on the
 * shared session pollers (../sessionPoller.ts). Webhooks carry the agent's events; a webhook
 * Sunshine gave up on (or that never arrived) would lose them. A poll first reads the
 * conversation (who holds it), then the messages after the backstop's own cursor, which only
 * it moves (never past a message it has not read just because a later one came by webhook),
 * and ingests the agent's: one message delivered both ways has one event id, so hbf-bot gets
 * it once. Only then, when the Agent Workspace no longer holds the conversation, does the
 * session end: a hand-back never overtakes the agent's last messages. Hand-back webhooks ask
 * for such a poll at once.
 *
 * The messages after the cursor are found by walking back from the newest page (`page[before]`)
 * to the cursor: whatever exactly `page[after]` returns, this reads each new message, and a
 * cursor message that is gone (deleted) costs no more than a walk back to the session's start.
 */
import { Duration, Effect, Layer } from "effect"
import type { SessionRecord } from "../../domain/model.js"
import { nowIso } from "../../domain/time.js"
import { AppConfig } from "../../services/AppConfig.js"
import { HbfCore } from "../../services/HbfCore.js"
import { Ingest, type IngestService } from "../../services/Ingest.js"
import {
  currentConfigOf,
  keepPollCalls,
  PollFailed,
  type PollFailure,
  runSessionPollers,
  type SessionPolling
} from "../sessionPoller.js"
import { ZendeskApi, type ZendeskApiService, type ZendeskApp } from "./client.js"
import { agentsHold, handedBack, mapMessage } from "./mapper.js"
import { conversationStateOf, type ZendeskConversationState } from "./provider.js"
import type { Message } from "./schemas.js"

const alias = "zendesk" as const

/** Pages read back per poll at most (100 messages each): more new messages than that in one interval are not expected. */
const MAX_PAGES_PER_POLL = 10

export interface BackstopDeps {
  readonly api: ZendeskApiService
  readonly configOf: (session: SessionRecord) => Effect.Effect<ZendeskApp, PollFailure>
  readonly ingest: IngestService["ingestPolled"]
  readonly interval: Duration.Duration
}

export const zendeskPolling = (deps: BackstopDeps): SessionPolling<ZendeskApp, ZendeskConversationState> => ({
  name: "zendesk-backstop",
  interval: deps.interval,
  configOf: deps.configOf,
  poll: (config, session, state) =>
    Effect.gen(function*() {
      const conversationId = session.providerConversationId
      if (conversationId === undefined) return { state, open: true }
      // Who holds the conversation is read first: every message before a hand-back is then listed below.
      const conversation = yield* deps.api.conversation(config, conversationId)
      const fresh = yield* newMessages(deps.api, config, conversationId, state)
      let next = state
      if (fresh.length > 0) {
        next = { ...state, cursor: fresh[fresh.length - 1]!.id }
        const { open } = yield* deps.ingest(session.sessionId, fresh.flatMap(mapMessage), { cursor: next.cursor })
        if (!open) return { state: next, open: false }
      }
      if (agentsHold(conversation)) return { state: next, open: true }
      yield* Effect.logInfo("the Agent Workspace gave the conversation back; the session ends", {
        sessionId: session.sessionId
      })
      const { open } = yield* deps.ingest(
        session.sessionId,
        handedBack(`zendesk:${conversationId}:${session.sessionId}:released`, yield* nowIso),
        {}
      )
      return { state: next, open }
    }).pipe(Effect.mapError((e) => new PollFailed({ message: e.message })))
})

/**
 * The messages after the cursor (or, should it be gone, since the session began), oldest
 * first: pages from the newest back until the cursor or the session's start is in sight.
 */
const newMessages = (
  api: ZendeskApiService,
  app: ZendeskApp,
  conversationId: string,
  state: ZendeskConversationState
) =>
  Effect.gen(function*() {
    const since = Date.parse(state.since)
    const pages: Array<ReadonlyArray<Message>> = []
    let before: string | undefined
    for (let n = 0;; n++) {
      if (n === MAX_PAGES_PER_POLL) {
        yield* Effect.logWarning("more new Sunshine messages than one poll reads; the oldest of them are skipped", {
          conversationId
        })
        break
      }
      const page = yield* api.messagesBefore(app, conversationId, before)
      if (page.unreadable > 0) {
        yield* Effect.logWarning("unreadable Sunshine messages skipped", { conversationId, count: page.unreadable })
      }
      const at = page.messages.findIndex((m) => m.id === state.cursor)
      if (at >= 0) {
        pages.unshift(page.messages.slice(at + 1))
        break
      }
      pages.unshift(page.messages.filter((m) => Date.parse(m.received) >= since))
      const oldest = page.messages[0]
      if (!page.hasMore || oldest === undefined || Date.parse(oldest.received) < since) break
      before = oldest.id
    }
    return pages.flat()
  })

/** Runs the backstop pollers of the Sunshine sessions of the partitions this instance owns. */
export const ZendeskBackstopLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const core = yield* HbfCore
    const ingest = yield* Ingest
    const api = yield* ZendeskApi
    const { zendeskPollIntervalMs } = yield* AppConfig

    yield* runSessionPollers(
      alias,
      conversationStateOf,
      zendeskPolling({
        api,
        configOf: (session) =>
          Effect.map(
            currentConfigOf(core, alias)(session),
            (config) => ({ tenantId: config.tenantId, config: config.zendesk })
          ),
        // The poll's calls go into the session's timeline only when it brought something.
        ingest: (sessionId, events, state) =>
          Effect.zipRight(keepPollCalls, ingest.ingestPolled(sessionId, events, state)),
        interval: Duration.millis(zendeskPollIntervalMs)
      })
    )
  })
)
