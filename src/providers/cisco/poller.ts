/**
 * Polls every open CCP chat (docs/PROVIDERS.md#cisco-ccp-chat: poll at least every 5 s), on the
 * shared session pollers (../sessionPoller.ts): a poll asks for the events after the stored
 * cursor and commits them with the new cursor; a user message or a new chat asks for a poll at
 * once. A poll ingests at most CISCO_MAX_EVENTS_PER_POLL events: the rest of a larger answer
 * are kept and ingested by the next polls, a tick apart, before CCP is asked again (the cursor
 * moves with each batch, so a poller stopped meanwhile, on a hand-over, leaves them to be read
 * again from CCP by the next owner).
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
  type PollFailure,
  runSessionPollers,
  type SessionPolling
} from "../sessionPoller.js"
import { type CcpConfig, CiscoApi, type CiscoApiService, isChatGone } from "./client.js"
import { ended, mapCcpEvents } from "./mapper.js"
import { chatStateOf, type CiscoChatState } from "./provider.js"
import type { CcpEvent } from "./xml.js"

const alias = "cisco-livechat" as const

export interface ChatPollerDeps {
  readonly api: CiscoApiService
  /** The tenant's CCP config, as hbf-core has it now. */
  readonly configOf: (session: SessionRecord) => Effect.Effect<CcpConfig, PollFailure>
  readonly ingest: IngestService["ingestPolled"]
  readonly interval: Duration.Duration
  /** CISCO_MAX_EVENTS_PER_POLL. */
  readonly maxEventsPerPoll: number
}

/** A chat's poller state: its stored cursor, and the events CCP answered beyond the last poll's maximum, oldest first. */
export interface ChatPollState extends CiscoChatState {
  readonly unread?: ReadonlyArray<CcpEvent>
}

/** One CCP chat's polls. A chat CCP no longer knows (its cookie expired, the feed timed it out) is over for the user too. */
export const ciscoPolling = (deps: ChatPollerDeps): SessionPolling<CcpConfig, ChatPollState> => ({
  name: "cisco-poller",
  interval: deps.interval,
  configOf: deps.configOf,
  poll: (config, session, state) =>
    Effect.gen(function*() {
      const chatId = session.providerConversationId ?? session.sessionId
      let events = state.unread ?? []
      if (events.length === 0) {
        const polled = yield* Effect.either(deps.api.poll(config, state.cookie, state.eventId))
        if (polled._tag === "Left") {
          if (!isChatGone(polled.left)) return yield* polled.left
          yield* deps.ingest(session.sessionId, [ended(chatId, yield* nowIso, "provider")], {})
          yield* Effect.logInfo("the CCP chat is gone; its session ended", {
            sessionId: session.sessionId,
            reason: polled.left.message
          })
          return { state, open: false }
        }
        events = polled.right
      }
      if (events.length === 0) return { state, open: true }
      const batch = events.length > deps.maxEventsPerPoll ? events.slice(0, deps.maxEventsPerPoll) : events
      const unread = events.slice(batch.length)
      const lastId = batch[batch.length - 1]!.id
      const { open } = yield* deps.ingest(
        session.sessionId,
        mapCcpEvents(chatId, state.customer, batch, yield* nowIso),
        {
          eventId: lastId
        }
      )
      return { state: { ...state, eventId: lastId, unread }, open, more: unread.length > 0 }
    })
})

/** Runs the pollers of the CCP chats of the partitions this instance owns. */
export const CiscoPollerLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const core = yield* HbfCore
    const ingest = yield* Ingest
    const api = yield* CiscoApi
    const { ciscoMaxEventsPerPoll, ciscoPollIntervalMs } = yield* AppConfig

    yield* runSessionPollers(
      alias,
      chatStateOf,
      ciscoPolling({
        api,
        configOf: currentConfigOf(core, alias),
        // The poll's calls go into the session's timeline only when it brought something.
        ingest: (sessionId, events, state) =>
          Effect.zipRight(keepPollCalls, ingest.ingestPolled(sessionId, events, state)),
        interval: Duration.millis(ciscoPollIntervalMs),
        maxEventsPerPoll: ciscoMaxEventsPerPoll
      })
    )
  })
)
