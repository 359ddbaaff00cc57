/**
 * Genesys notifications (docs/PROVIDERS.md#notifications-websocket): the only
 * source of agent joined / left and of the conversation's end.
 *
 * One channel per credential set, run by the instance that owns the credential set's
 * partition (so it moves with the partition on failover or leave). The channel follows
 * the detail topics of every open conversation of that credential set: `follow` requests
 * (from whichever instance created the session) add one at once; a resync against the
 * store adds what a lost request missed and drops the conversations that ended elsewhere.
 *
 * Notifications sent while no socket is connected are lost, so after every (re)connect,
 * and when a conversation is first followed, the conversation is re-read and whatever it
 * shows is ingested; event ids are the same on both paths, so nothing is doubled.
 *
 * The channel itself is notificationSocket.ts (the socket) driving notificationProtocol.ts
 * (what is followed, and what a notification means).
 */
import { Clock, Duration, Effect, Either, Layer, Option, Queue } from "effect"
import { isOpen } from "../../domain/stateMachine.js"
import { tenantConfigFor } from "../../domain/tenant.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Coordinator } from "../../services/Coordinator.js"
import { HbfCore } from "../../services/HbfCore.js"
import { Ingest } from "../../services/Ingest.js"
import { ProviderEgressGuard } from "../../services/ProviderEgressGuard.js"
import { SessionStore } from "../../services/SessionStore.js"
import { credentialsOf, GenesysApi, type GenesysCredentials, partitionOfCredentials } from "./client.js"
import { notificationTimings } from "./notificationProtocol.js"
import { type Channel, type ChannelDeps, startChannel } from "./notificationSocket.js"
import { followedByKind, followKind } from "./provider.js"

const alias = "genesys-livechat" as const

/**
 * Runs the Genesys notification channels of the credential sets whose partitions this
 * instance owns, and answers `follow` requests for them from any instance.
 */
export const GenesysNotificationsLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const coordinator = yield* Coordinator
    const store = yield* SessionStore
    const core = yield* HbfCore
    const ingest = yield* Ingest
    const api = yield* GenesysApi
    const egress = yield* ProviderEgressGuard
    const scope = yield* Effect.scope
    const owned = new Set<number>()
    const channels = new Map<string, { readonly partition: number; readonly channel: Channel }>()
    const resyncSoon = yield* Queue.sliding<void>(1)

    const deps: ChannelDeps = {
      api,
      egress,
      ingest: (tenantId, conversationId, events, via) =>
        Effect.asVoid(ingest.ingest(alias, tenantId, conversationId, events, via)),
      maxFrameBytes: (yield* AppConfig).upstream.maxBodyBytes
    }
    const partitionOf = (credentials: GenesysCredentials) => partitionOfCredentials(credentials, coordinator.partitions)

    const credentialsOfTenant = (tenantId: string) =>
      Effect.map(
        core.tenant(tenantId),
        (tenant) => Option.map(tenantConfigFor(tenant, alias), (own) => credentialsOf(tenantId, own.genesys))
      )

    /** Starting and stopping channels, one at a time: ownership is checked and acted on together. */
    const channelsLock = yield* Effect.makeSemaphore(1)

    /** The credential set's channel, started if need be; none when this instance does not own its partition (any more). */
    const channelFor = (credentials: GenesysCredentials) =>
      channelsLock.withPermits(1)(
        Effect.gen(function*() {
          const partition = partitionOf(credentials)
          if (!owned.has(partition)) return Option.none<Channel>()
          const running = channels.get(credentials.id)
          if (running !== undefined) return Option.some(running.channel)
          const channel = yield* startChannel(credentials, deps, scope)
          channels.set(credentials.id, { partition, channel })
          return Option.some(channel)
        })
      )

    /** Follows the conversation of a session (a follow request names the session: its record says the tenant and conversation). */
    const follow = (sessionId: string) =>
      Effect.gen(function*() {
        const session = Option.filter(yield* store.get(sessionId), (s) => s.provider === alias && isOpen(s.status))
        const conversationId = Option.getOrUndefined(Option.flatMapNullable(session, (s) => s.providerConversationId))
        if (Option.isNone(session) || conversationId === undefined) return false
        const credentials = yield* credentialsOfTenant(session.value.tenantId)
        if (Option.isNone(credentials)) return false
        const channel = yield* channelFor(credentials.value)
        if (Option.isNone(channel)) return false
        yield* channel.value.follow(conversationId)
        return true
      }).pipe(
        Effect.catchAll((e) =>
          Effect.as(
            Effect.logWarning("could not follow a Genesys conversation; the resync will", {
              sessionId,
              reason: e.message
            }),
            false
          )
        )
      )

    /** Whether Genesys refused the notification topics of the tenant's credential set (false when no channel runs for it). */
    const topicsRefused = (tenantId: string) =>
      credentialsOfTenant(tenantId).pipe(
        Effect.map((credentials) =>
          Option.match(Option.flatMapNullable(credentials, (c) => channels.get(c.id)), {
            onNone: () => false,
            onSome: (running) => running.channel.topicsRefused()
          })
        ),
        Effect.orElseSucceed(() => false)
      )

    /**
     * Every open Genesys conversation of a credential set served here, from the store. When
     * a tenant cannot be looked up, its conversations are unknown: nothing is unfollowed then.
     */
    const resync = Effect.gen(function*() {
      const since = yield* Clock.currentTimeMillis
      const wanted = new Map<string, { credentials: GenesysCredentials; conversations: Set<string> }>()
      let complete = true
      for (let partition = 0; partition < coordinator.partitions; partition++) {
        for (const session of yield* store.openSessions(partition)) {
          if (session.provider !== alias || session.providerConversationId === undefined) continue
          const credentials = yield* Effect.either(credentialsOfTenant(session.tenantId))
          if (Either.isLeft(credentials)) {
            complete = false
            continue
          }
          if (Option.isNone(credentials.right) || !owned.has(partitionOf(credentials.right.value))) continue
          const entry = wanted.get(credentials.right.value.id) ??
            { credentials: credentials.right.value, conversations: new Set<string>() }
          entry.conversations.add(session.providerConversationId)
          wanted.set(credentials.right.value.id, entry)
        }
      }
      for (const { conversations, credentials } of wanted.values()) {
        const channel = yield* channelFor(credentials)
        if (Option.isNone(channel)) continue
        if (complete) yield* channel.value.replace(conversations, since)
        else yield* Effect.forEach(conversations, channel.value.follow, { discard: true })
      }
      if (!complete) {
        return yield* Effect.logWarning(
          "Genesys notifications resync could not look every tenant up; nothing unfollowed"
        )
      }
      for (const [id, running] of channels) {
        if (!wanted.has(id)) yield* running.channel.replace(new Set(), since)
      }
    })

    yield* resync.pipe(
      Effect.catchAll((e) => Effect.logWarning("Genesys notifications resync failed", { reason: e.message })),
      Effect.zipRight(Effect.raceFirst(Queue.take(resyncSoon), Effect.sleep(notificationTimings.resyncInterval))),
      // Partitions arrive in bursts at boot and on failover: one resync for the burst.
      Effect.zipRight(Effect.sleep(Duration.millis(200))),
      Effect.forever,
      Effect.forkScoped
    )

    /** Stops the channels of a partition handed over, all at once. */
    const stopPartition = (partition: number) =>
      channelsLock.withPermits(1)(
        Effect.suspend(() => {
          owned.delete(partition)
          const leaving = [...channels].filter(([, running]) => running.partition === partition)
          for (const [id] of leaving) channels.delete(id)
          return Effect.forEach(leaving, ([, running]) => running.channel.stop, {
            concurrency: "unbounded",
            discard: true
          })
        })
      )

    yield* coordinator.runPerPartition(
      "genesys-notifications",
      ({ answer, handOver, partition }) =>
        Effect.gen(function*() {
          owned.add(partition)
          yield* answer(followKind, follow)
          yield* answer(followedByKind, topicsRefused)
          yield* Queue.offer(resyncSoon, undefined)
          yield* handOver
        }).pipe(Effect.ensuring(stopPartition(partition)))
    )
  })
)
