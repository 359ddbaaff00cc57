/**
 * What a Genesys notifications channel follows, and what it makes of what it hears
 * (docs/PROVIDERS.md#notifications-websocket): which conversations are wanted, which are
 * subscribed on the current channel, which must be re-read (their events could not be
 * ingested, or Genesys answered 404), and when a plain agent leave's grace is over.
 *
 * No socket here: the channel (notificationSocket.ts) feeds it inputs one at a time (a
 * notification, a tick, a grace that is over, a (re)connect) and takes the subscription
 * changes it asks for. Time is the Effect Clock's, so tests drive it with TestClock.
 *
 * A topic Genesys refuses (a subscription answers each topic's `state`; a rejected one sends
 * nothing, ever) leaves its conversation without joins, leaves or its end: that conversation
 * is re-read every `refusedReadInterval` instead, for as long as the refusal holds.
 */
import { Clock, Duration, Effect, Either, Schedule, Schema, type Scope } from "effect"
import type { ProviderEvent } from "../../domain/model.js"
import { countTopicRejected } from "../../infra/metrics.js"
import type { ProviderApiError } from "../providerCalls.js"
import {
  conversationOver,
  type DetailKind,
  detailKinds,
  ended,
  graceEndsAt,
  mapConversation,
  mapDetailEvent,
  parseDetailTopic,
  topicsOf
} from "./mapper.js"
import { type Conversation, DetailEvent } from "./schemas.js"

export const notificationTimings = {
  /** A plain agent disconnect ends the conversation only if no agent joins within this: a transfer looks the same for a moment. */
  agentLeftGrace: Duration.seconds(10),
  /** How often the followed conversations are checked against the store. */
  resyncInterval: Duration.seconds(60),
  /** The server heartbeats every 30 s; silence for longer than this is a dead socket. */
  silenceLimit: Duration.seconds(75),
  pingInterval: Duration.seconds(30),
  tick: Duration.seconds(5),
  reconnectBase: Duration.millis(500),
  reconnectMax: Duration.seconds(30),
  /** Genesys' limit; a channel follows at most this many topics (4 per conversation). */
  topicsPerChannel: 1000,
  /** How often a conversation whose topics Genesys refused is re-read instead (checked at each tick). */
  refusedReadInterval: Duration.seconds(10),
  /** How long an agent's name read from Genesys is used for their joins before it is read again. */
  agentNameFreshFor: Duration.minutes(1),
  /** A conversation Genesys answers 404 for this many re-reads in a row is gone. */
  notFoundLimit: 3,
  /**
   * Bytes of frames received and not yet handled past which the socket stops reading; it
   * reads again once they are down to half. Beyond it the inbox holds at most what the socket
   * had already read (one read) and one input of each other kind per cause.
   */
  inboxBytes: 4 * 1024 * 1024
}

/** How many conversations one channel can follow (Genesys' topic limit, four topics each). */
const conversationsPerChannel = Math.floor(notificationTimings.topicsPerChannel / detailKinds.length)

const decodeDetail = Schema.decodeUnknownEither(DetailEvent)

/** What the protocol needs of Genesys and of the gateway. */
export interface FollowDeps {
  /** Names the channel in logs. */
  readonly label: string
  readonly readConversation: (conversationId: string) => Effect.Effect<Conversation, ProviderApiError>
  readonly readAgentName: (userId: string) => Effect.Effect<string | undefined, ProviderApiError>
  /** Ingests events of a conversation, come by a notification (`socket`) or a re-read (`poll`); fails when the store is away. */
  readonly ingest: (
    conversationId: string,
    events: ReadonlyArray<ProviderEvent>,
    via: "socket" | "poll"
  ) => Effect.Effect<void, { message: string }>
  /** Told when a conversation's scheduled re-read is due; the channel answers with `check` in its turn. */
  readonly wake: (conversationId: string) => Effect.Effect<void>
}

/** A topic a subscription answer says Genesys refused, and why (names only). */
export interface RefusedTopic {
  readonly topic: string
  readonly reason: string | undefined
  readonly missingPermissions: ReadonlyArray<string>
}

/** The subscriptions of the channel currently connected; each answers the topics Genesys refused. */
export interface Subscriptions {
  /** Follows exactly these topics (PUT). */
  readonly replace: (topics: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<RefusedTopic>, ProviderApiError>
  /** Follows these topics too (POST). */
  readonly add: (topics: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<RefusedTopic>, ProviderApiError>
}

/** One input at a time: none of these may run while another does (the channel's loop sees to it). */
export interface FollowProtocol {
  readonly follow: (conversationId: string) => Effect.Effect<void>
  /** Follows exactly these (a snapshot of the store taken at `since`, epoch ms), keeping what was followed after it. */
  readonly replace: (conversationIds: ReadonlySet<string>, since: number) => Effect.Effect<void>
  readonly nothingToFollow: () => boolean
  /** A new channel: nothing is subscribed on it yet, so the next `align` subscribes and re-reads everything. */
  readonly connected: Effect.Effect<void>
  /** Brings the subscriptions in line with what is wanted, and re-reads what was just added; answers how many are followed. */
  readonly align: (subscriptions: Subscriptions) => Effect.Effect<number, ProviderApiError>
  /** A notification of a detail topic. */
  readonly notification: (topicName: string, body: unknown) => Effect.Effect<void>
  /** A scheduled re-read is due (see `FollowDeps.wake`). */
  readonly check: (conversationId: string) => Effect.Effect<void>
  /** Re-reads the conversations whose events could not be ingested or that Genesys could not find, and those due a scheduled re-read because their topics were refused. */
  readonly tick: Effect.Effect<void>
  /** Whether Genesys' latest subscription answer refused topics: their conversations are followed by re-reading them. */
  readonly topicsRefused: () => boolean
}

/** The follow protocol of one channel; its scheduled re-reads live in `scope`. */
export const makeFollowProtocol = (deps: FollowDeps, scope: Scope.Scope): FollowProtocol => {
  /** What should be followed, in the order it was asked for (epoch ms). */
  const wanted = new Map<string, number>()
  /** Conversations whose events could not be ingested, re-read at the next tick. */
  const dirty = new Set<string>()
  /** Conversations with a re-read scheduled (a plain agent leave waiting out its grace). */
  const checking = new Set<string>()
  /** Consecutive re-reads that Genesys answered 404. */
  const missing = new Map<string, number>()
  /** Agents' names by user id, and when each was read (epoch ms), oldest first. */
  const names = new Map<string, { readonly name: string | undefined; readonly readAt: number }>()
  /** What the current channel is subscribed to. */
  let subscribed = new Set<string>()
  let overflowReported = 0
  /** Conversations with a topic Genesys refused on the current channel, and when each is next re-read (epoch ms). */
  const refused = new Map<string, number>()
  /** Topics counted as refused (each once while its conversation is followed). */
  const countedRefusals = new Set<string>()
  /** Refusals logged: one line per topic kind, reason and missing permissions. */
  const loggedRefusals = new Set<string>()
  let refusing = false

  const unfollow = (conversationId: string) => {
    wanted.delete(conversationId)
    dirty.delete(conversationId)
    missing.delete(conversationId)
    refused.delete(conversationId)
    for (const topic of topicsOf(conversationId)) countedRefusals.delete(topic)
  }

  /**
   * The agent's name as Genesys has it now, read at most once per `agentNameFreshFor` per agent:
   * a renamed agent's next join shows the new name, and a burst of joins costs one read each.
   * A read that fails answers the last name known, if any, and is tried again at the next join.
   */
  const agentName = (userId: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const freshForMs = Duration.toMillis(notificationTimings.agentNameFreshFor)
      const known = names.get(userId)
      if (known !== undefined && now - known.readAt < freshForMs) return known.name
      const read = yield* Effect.option(deps.readAgentName(userId))
      if (read._tag === "None") return known?.name
      names.delete(userId)
      names.set(userId, { name: read.value, readAt: now })
      // Kept in the order read: the stale ones are at the front, so the map holds recent agents only.
      for (const [id, entry] of names) {
        if (now - entry.readAt < freshForMs) break
        names.delete(id)
      }
      return read.value
    })

  /** Ingests with a few retries; answers whether the events are stored (else the conversation is re-read later). */
  const ingest = (conversationId: string, events: ReadonlyArray<ProviderEvent>, via: "socket" | "poll") =>
    events.length === 0
      ? Effect.succeed(true)
      : deps.ingest(conversationId, events, via).pipe(
        Effect.retry(Schedule.exponential(Duration.millis(200)).pipe(Schedule.intersect(Schedule.recurs(4)))),
        Effect.as(true),
        Effect.catchAll((e) =>
          Effect.as(
            Effect.zipRight(
              Effect.logWarning("could not ingest Genesys events; the conversation is re-read later", {
                conversationId,
                reason: e.message
              }),
              Effect.sync(() => void dirty.add(conversationId))
            ),
            false
          )
        )
      )

  /** One pending re-read per conversation, at `at` (epoch ms). */
  const checkAt = (conversationId: string, at: number) =>
    Effect.gen(function*() {
      if (checking.has(conversationId)) return
      checking.add(conversationId)
      const now = yield* Clock.currentTimeMillis
      yield* Effect.forkIn(Effect.delay(deps.wake(conversationId), Duration.millis(Math.max(0, at - now))), scope)
    })

  /** Re-reads a conversation: ingests what it shows, and stops following it once it is over. */
  const reconcile = (conversationId: string) =>
    Effect.gen(function*() {
      const read = yield* Effect.either(deps.readConversation(conversationId))
      if (Either.isLeft(read)) {
        dirty.add(conversationId)
        if (read.left.status !== 404) {
          return yield* Effect.logWarning("could not re-read a Genesys conversation; trying again later", {
            conversationId,
            reason: read.left.message
          })
        }
        // A new conversation may not be readable yet; one Genesys keeps denying is gone, and so is its livechat.
        const denials = (missing.get(conversationId) ?? 0) + 1
        missing.set(conversationId, denials)
        if (denials < notificationTimings.notFoundLimit) return
        yield* Effect.logWarning("Genesys no longer knows a followed conversation; ending its livechat", {
          conversationId
        })
        if (
          yield* ingest(conversationId, [ended(conversationId, yield* Clock.currentTimeMillis, "provider")], "poll")
        ) unfollow(conversationId)
        return
      }
      dirty.delete(conversationId)
      missing.delete(conversationId)
      const conversation = read.right
      const now = yield* Clock.currentTimeMillis
      const events = [...mapConversation(conversation, now)]
      const graceMs = Duration.toMillis(notificationTimings.agentLeftGrace)
      const over = conversationOver(conversation, now, graceMs)
      if (over !== undefined && !events.some((e) => e.id === over.id)) events.push(over)
      const stored = yield* ingest(conversationId, events, "poll")
      if (over !== undefined) {
        if (stored) unfollow(conversationId)
        return
      }
      const lookAgainAt = graceEndsAt(conversation, graceMs)
      if (lookAgainAt !== undefined) yield* checkAt(conversationId, lookAgainAt)
    })

  const onDetail = (kind: DetailKind, conversationId: string, body: unknown) =>
    Effect.gen(function*() {
      if (!wanted.has(conversationId)) return
      const detail = decodeDetail(body)
      if (Either.isLeft(detail)) {
        yield* Effect.logWarning("unreadable Genesys notification; re-reading the conversation", {
          conversationId,
          kind
        })
        return yield* reconcile(conversationId)
      }
      const name = kind === "user.start" && detail.right.userId !== undefined
        ? yield* agentName(detail.right.userId)
        : undefined
      const stored = yield* ingest(conversationId, mapDetailEvent(kind, detail.right, name), "socket")
      if (kind === "customer.end") {
        if (stored) unfollow(conversationId)
      } else if (kind === "acw") {
        yield* reconcile(conversationId)
      } else if (kind === "user.end" && !detail.right.disconnectType?.toLowerCase().startsWith("transfer")) {
        yield* checkAt(conversationId, detail.right.eventTime + Duration.toMillis(notificationTimings.agentLeftGrace))
      }
    })

  /** What one channel can follow: the conversations asked for first, up to its topic limit. */
  const followable = () => {
    const conversations = [...wanted.keys()]
    return {
      conversations: new Set(conversations.slice(0, conversationsPerChannel)),
      overflow: Math.max(0, conversations.length - conversationsPerChannel)
    }
  }

  const topicsFor = (conversationIds: Iterable<string>) => [...conversationIds].flatMap(topicsOf)

  /** Takes in a subscription answer's refusals; `replaced`: the answer covers every topic of the channel. */
  const onRefusals = (answer: ReadonlyArray<RefusedTopic>, replaced: boolean) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const refusals = answer.flatMap((refusal) => {
        const detail = parseDetailTopic(refusal.topic)
        return detail === undefined ? [] : [{ ...detail, refusal }]
      })
      if (replaced) {
        const stillRefused = new Set(refusals.map((r) => r.conversationId))
        for (const conversationId of [...refused.keys()]) {
          if (!stillRefused.has(conversationId)) refused.delete(conversationId)
        }
        refusing = refusals.length > 0
      } else if (refusals.length > 0) refusing = true
      /** The kinds refused for the first time, by reason and missing permissions: one log line each. */
      const unlogged = new Map<
        string,
        { reason: string; missingPermissions: ReadonlyArray<string>; kinds: Set<string> }
      >()
      for (const { conversationId, kind, refusal } of refusals) {
        if (!refused.has(conversationId)) {
          refused.set(conversationId, now + Duration.toMillis(notificationTimings.refusedReadInterval))
        }
        if (!countedRefusals.has(refusal.topic)) {
          countedRefusals.add(refusal.topic)
          yield* countTopicRejected(kind)
        }
        const reason = refusal.reason ?? "unknown"
        const logKey = [kind, reason, ...refusal.missingPermissions].join("\u0000")
        if (loggedRefusals.has(logKey)) continue
        loggedRefusals.add(logKey)
        const group = [reason, ...refusal.missingPermissions].join("\u0000")
        const entry = unlogged.get(group) ??
          { reason, missingPermissions: refusal.missingPermissions, kinds: new Set<string>() }
        entry.kinds.add(kind)
        unlogged.set(group, entry)
      }
      for (const { kinds, missingPermissions, reason } of unlogged.values()) {
        yield* Effect.logError(
          "Genesys refused notification topics; their conversations are re-read on a schedule instead (joins, leaves and ends arrive later)",
          { credentials: deps.label, topicKinds: [...kinds], reason, missingPermissions }
        )
      }
    })

  return {
    follow: (conversationId) =>
      Effect.map(
        Clock.currentTimeMillis,
        (now) => void (wanted.has(conversationId) || wanted.set(conversationId, now))
      ),
    replace: (conversationIds, since) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const [conversationId, followedAt] of wanted) {
          // Followed after the snapshot was taken: newer than what the snapshot knows.
          if (!conversationIds.has(conversationId) && followedAt < since) unfollow(conversationId)
        }
        for (const conversationId of conversationIds) if (!wanted.has(conversationId)) wanted.set(conversationId, now)
      }),
    nothingToFollow: () => wanted.size === 0,
    connected: Effect.sync(() => {
      subscribed = new Set()
      overflowReported = 0
    }),
    align: (subscriptions) =>
      Effect.gen(function*() {
        const { conversations, overflow } = followable()
        if (overflow > 0 && overflow !== overflowReported) {
          overflowReported = overflow
          yield* Effect.logError(
            "more open Genesys conversations than one notifications channel can follow; the latest are not followed",
            {
              credentials: deps.label,
              notFollowed: overflow
            }
          )
        }
        const added = [...conversations].filter((c) => !subscribed.has(c))
        const removed = [...subscribed].filter((c) => !conversations.has(c))
        if (removed.length > 0 || subscribed.size === 0) {
          yield* onRefusals(yield* subscriptions.replace(topicsFor(conversations)), true)
        } else if (added.length > 0) yield* onRefusals(yield* subscriptions.add(topicsFor(added)), false)
        const wasEmpty = subscribed.size === 0
        subscribed = conversations
        // What happened before a conversation's topics were followed is only in the conversation itself.
        yield* Effect.forEach(wasEmpty ? [...conversations] : added, reconcile, { discard: true })
        return subscribed.size
      }),
    notification: (topicName, body) => {
      const detail = parseDetailTopic(topicName)
      return detail === undefined ? Effect.void : onDetail(detail.kind, detail.conversationId, body)
    },
    check: (conversationId) =>
      Effect.suspend(() => {
        checking.delete(conversationId)
        return wanted.has(conversationId) ? reconcile(conversationId) : Effect.void
      }),
    tick: Effect.gen(function*() {
      const reread = [...dirty]
      yield* Effect.forEach(
        reread,
        (conversationId) => (wanted.has(conversationId)
          ? reconcile(conversationId)
          : Effect.sync(() => void dirty.delete(conversationId))),
        { discard: true }
      )
      // The conversations Genesys sends nothing about: re-read on their schedule.
      const now = yield* Clock.currentTimeMillis
      const interval = Duration.toMillis(notificationTimings.refusedReadInterval)
      const due = [...refused].filter(([, at]) => at <= now).map(([conversationId]) => conversationId)
      for (const conversationId of due) refused.set(conversationId, now + interval)
      yield* Effect.forEach(
        due.filter((conversationId) => wanted.has(conversationId) && !reread.includes(conversationId)),
        reconcile,
        { discard: true }
      )
    }),
    topicsRefused: () => refusing
  }
}
