/**
 * The single-node store: SessionStore and Outbox over one in-process state, so a commit
 * (session change + seen ids + outbox append) is atomic simply by running synchronously.
 */
import { Clock, Context, Effect, Layer, Option, Stream, SubscriptionRef } from "effect"
import type { LivechatEvent, SessionRecord, SessionStatus } from "../domain/model.js"
import { isOpen } from "../domain/stateMachine.js"
import { DeadLetterNotFound } from "../services/errors.js"
import { type DeadLetter, Outbox, type OutboxEntry, type OutboxService, partitionOf } from "../services/Outbox.js"
import {
  type CommitResult,
  type CreateResult,
  type MessageReservation,
  SessionStore,
  type SessionStoreService,
  type StatusFilter,
  WEBHOOK_SOURCE_TENANTS,
  withActivity
} from "../services/SessionStore.js"

export interface MemoryStoreOptions {
  readonly partitions: number
  /** How long an event id is remembered for de-duplication. */
  readonly dedupTtlMillis?: number
}

interface Partition {
  /** Unacked entries in append order. */
  readonly entries: Array<OutboxEntry>
  /** Bumped on every append, so consumers wake up. */
  readonly appended: SubscriptionRef.SubscriptionRef<number>
}

interface WaitSample {
  readonly assignedAtMillis: number
  readonly waitMillis: number
}

const DAY = 24 * 60 * 60 * 1000

// Keys of ids that others choose (tenants, subscribers, conversations) are unambiguous whatever the ids hold.
const conversationKey = (provider: string, tenantId: string, conversationId: string) => JSON.stringify([provider, tenantId, conversationId])
const messageKey = (sessionId: string, messageId: string) => `${sessionId}\u0000${messageId}`
const seenKey = messageKey
const subscriberKey = (tenantId: string, subHandle: string) => JSON.stringify([tenantId, subHandle])

export const makeMemoryStore = (options: MemoryStoreOptions) =>
  Effect.gen(function* () {
    const dedupTtl = options.dedupTtlMillis ?? 7 * DAY
    const sessions = new Map<string, SessionRecord>()
    /** The subscriber's latest session not confined, by subHandle; and in each tenant, by subscriberKey. */
    const latestBySubscriber = new Map<string, string>()
    const latestInTenant = new Map<string, string>()
    const byConversation = new Map<string, string>()
    const counts = new Map<string, number>()
    const pendingByTenant = new Map<string, number>()
    const waitSamples = new Map<string, Array<WaitSample>>()
    /** Seen event ids by session (seenKey), insertion-ordered, so expired ids are always at the front. */
    const seen = new Map<string, number>()
    /** Tenants by webhook source (provider and source), with when each was last remembered. */
    const webhookSources = new Map<string, Map<string, number>>()
    const messages = new Map<string, MessageReservation>()
    /** The open sessions' last user activity, kept beside their records as the Redis store does. */
    const activity = new Map<string, string>()
    const read = (sessionId: string | undefined) => {
      const record = sessionId === undefined ? undefined : sessions.get(sessionId)
      return record === undefined ? Option.none() : Option.some(withActivity(record, activity.get(record.sessionId)))
    }
    const deadLetters = new Map<string, DeadLetter>()
    const partitions: Array<Partition> = []
    /** Open session ids per partition: the per-partition workers list them often. */
    const openByPartition: Array<Set<string>> = []
    for (let p = 0; p < options.partitions; p++) {
      partitions.push({ entries: [], appended: yield* SubscriptionRef.make(0) })
      openByPartition.push(new Set())
    }
    let nextEntryId = 0

    const reserve = (sessionId: string, messageId: string): MessageReservation => {
      const key = messageKey(sessionId, messageId)
      const existing = messages.get(key)
      if (existing !== undefined) return existing._tag === "Reserved" ? { _tag: "InFlight" } : existing
      messages.set(key, { _tag: "Reserved" })
      return { _tag: "Reserved" }
    }

    const bump = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by)

    const countStatus = (record: SessionRecord, by: 1 | -1) => {
      bump(counts, `${record.organizationId}\u0000${record.status}`, by)
      bump(counts, `${record.organizationId}\u0000${record.status}\u0000${record.tenantId}`, by)
      if (record.status === "pending") bump(pendingByTenant, record.tenantId, by)
    }

    const index = (previous: SessionRecord | undefined, next: SessionRecord) => {
      sessions.set(next.sessionId, next)
      const open = openByPartition[partitionOf(next.sessionId, options.partitions)]!
      if (isOpen(next.status)) open.add(next.sessionId)
      else {
        open.delete(next.sessionId)
        activity.delete(next.sessionId)
      }
      // Only a new session becomes the subscriber's latest; a late change to an older one must not.
      if (previous === undefined) {
        latestInTenant.set(subscriberKey(next.tenantId, next.subHandle), next.sessionId)
        if (next.confined !== true) latestBySubscriber.set(next.subHandle, next.sessionId)
      }
      // Set when the session gets its conversation: a late change to an older session of a
      // conversation the provider reuses (Sunshine) must not take the conversation back.
      if (next.providerConversationId !== undefined && previous?.providerConversationId !== next.providerConversationId) {
        byConversation.set(conversationKey(next.provider, next.tenantId, next.providerConversationId), next.sessionId)
      }
      if (previous?.status !== next.status) {
        if (previous) countStatus(previous, -1)
        countStatus(next, 1)
      }
      if (previous?.assignedAt === undefined && next.assignedAt !== undefined) {
        const assignedAtMillis = Date.parse(next.assignedAt)
        const samples = waitSamples.get(next.tenantId) ?? []
        samples.push({ assignedAtMillis, waitMillis: Math.max(0, assignedAtMillis - Date.parse(next.createdAt)) })
        // The longest window asked for is 30 days; older samples can go.
        while (samples.length > 0 && samples[0]!.assignedAtMillis < assignedAtMillis - 31 * DAY) samples.shift()
        waitSamples.set(next.tenantId, samples)
      }
    }

    const forgetExpiredIds = (now: number) => {
      for (const [id, expiresAt] of seen) {
        if (expiresAt > now) break
        seen.delete(id)
      }
    }

    const isSeen = (id: string, now: number) => (seen.get(id) ?? 0) > now

    const append = (event: LivechatEvent, targets?: OutboxEntry["targets"]) => {
      const partition = partitionOf(event.sessionId, options.partitions)
      const entry: OutboxEntry = {
        id: String(++nextEntryId),
        partition,
        event,
        ...(targets !== undefined ? { targets } : {})
      }
      partitions[partition]!.entries.push(entry)
      return partitions[partition]!
    }

    const wake = (touched: ReadonlyArray<Partition>) =>
      Effect.forEach(new Set(touched), (p) => SubscriptionRef.update(p.appended, (n) => n + 1), { discard: true })

    const store: SessionStoreService = {
      create: (record) =>
        Effect.sync((): CreateResult => {
          const openOf = (latest: string | undefined) => {
            const session = latest !== undefined ? sessions.get(latest) : undefined
            return session !== undefined && isOpen(session.status) ? session : undefined
          }
          const open =
            openOf(latestInTenant.get(subscriberKey(record.tenantId, record.subHandle))) ??
            (record.confined === true ? undefined : openOf(latestBySubscriber.get(record.subHandle)))
          if (open !== undefined) return { _tag: "Open", existing: open }
          index(undefined, record)
          return { _tag: "Created" }
        }),
      get: (sessionId) => Effect.sync(() => read(sessionId)),
      latestBySubscriber: (subHandle, tenantId) =>
        Effect.sync(() =>
          read(tenantId === undefined ? latestBySubscriber.get(subHandle) : latestInTenant.get(subscriberKey(tenantId, subHandle)))
        ),
      byConversation: (provider, tenantId, conversationId) =>
        Effect.sync(() => read(byConversation.get(conversationKey(provider, tenantId, conversationId)))),
      commit: (change) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const previous = sessions.get(change.next.sessionId)
          if (previous === undefined || previous.version !== change.expectedVersion) {
            return Effect.succeed<CommitResult>("conflict")
          }
          if (change.expectedActivity !== undefined && (activity.get(previous.sessionId) ?? "") > change.expectedActivity) {
            return Effect.succeed<CommitResult>("conflict")
          }
          forgetExpiredIds(now)
          const seenKeys = (change.seen ?? []).map((id) => seenKey(change.next.sessionId, id))
          if (seenKeys.some((key) => isSeen(key, now))) return Effect.succeed<CommitResult>("duplicate")
          for (const key of seenKeys) seen.set(key, now + dedupTtl)
          index(previous, change.next)
          const touched = (change.events ?? []).map((event) => append(event))
          return Effect.as(wake(touched), "committed" as const)
        }),
      seen: (sessionId, ids) => Effect.map(Clock.currentTimeMillis, (now) => new Set(ids.filter((id) => isSeen(seenKey(sessionId, id), now)))),
      count: (organizationId, status: StatusFilter, tenants) =>
        Effect.sync(() => {
          const statuses: ReadonlyArray<SessionStatus> = status === "open" ? ["pending", "active"] : [status]
          const keys = tenants === undefined ? [""] : tenants.map((tenantId) => `\u0000${tenantId}`)
          let total = 0
          for (const s of statuses) for (const key of keys) total += counts.get(`${organizationId}\u0000${s}${key}`) ?? 0
          return total
        }),
      waitingStats: (tenantId, sinceMillis) =>
        Effect.sync(() => {
          const inWindow = (waitSamples.get(tenantId) ?? []).filter((s) => s.assignedAtMillis >= sinceMillis)
          const total = inWindow.reduce((sum, s) => sum + s.waitMillis, 0)
          return {
            averageSeconds: inWindow.length === 0 ? 0 : total / inWindow.length / 1000,
            assigned: inWindow.length,
            pending: pendingByTenant.get(tenantId) ?? 0
          }
        }),
      openSessions: (partition) =>
        Effect.sync(() =>
          [...(openByPartition[partition] ?? [])].flatMap((sessionId) => Option.toArray(read(sessionId)))
        ),
      reserveMessage: (sessionId, messageId) => Effect.sync(() => reserve(sessionId, messageId)),
      reserveSubscriberMessage: (subHandle, tenantId, messageId) =>
        Effect.sync(() =>
          Option.map(read(latestInTenant.get(subscriberKey(tenantId, subHandle))), (session) => ({
            session,
            reservation: reserve(session.sessionId, messageId)
          }))
        ),
      completeMessage: (sessionId, messageId, result, at) =>
        Effect.sync(() => {
          messages.set(messageKey(sessionId, messageId), { _tag: "Forwarded", result })
          const session = sessions.get(sessionId)
          if (session !== undefined && isOpen(session.status) && (activity.get(sessionId) ?? "") < at) activity.set(sessionId, at)
        }),
      releaseMessage: (sessionId, messageId) => Effect.sync(() => void messages.delete(messageKey(sessionId, messageId))),
      rememberWebhookSource: (provider, source, tenantId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const key = `${provider}\u0000${source}`
          const tenants = webhookSources.get(key) ?? new Map<string, number>()
          tenants.set(tenantId, now)
          webhookSources.set(key, tenants)
        }),
      webhookSourceTenants: (provider, source) =>
        Effect.sync(() =>
          [...(webhookSources.get(`${provider}\u0000${source}`) ?? new Map<string, number>())]
            .sort(([, a], [, b]) => b - a)
            .slice(0, WEBHOOK_SOURCE_TENANTS)
            .map(([tenantId]) => tenantId)
        ),
      ping: Effect.succeed(true)
    }

    const outbox: OutboxService = {
      consume: (partition) => {
        const p = partitions[partition]!
        let delivered = 0
        // `changes` starts with the current value: the backlog first, then every append.
        return p.appended.changes.pipe(
          Stream.mapConcat(() => {
            const fresh = p.entries.filter((e) => Number(e.id) > delivered)
            if (fresh.length > 0) delivered = Number(fresh[fresh.length - 1]!.id)
            return fresh
          })
        )
      },
      ack: (entry) =>
        Effect.sync(() => {
          const entries = partitions[entry.partition]!.entries
          const at = entries.findIndex((e) => e.id === entry.id)
          if (at >= 0) entries.splice(at, 1)
          return "acked" as const
        }),
      deadLetter: (letter) => Effect.sync(() => void deadLetters.set(letter.id, letter)),
      deadLetters: Effect.sync(() => [...deadLetters.values()]),
      replay: (id) =>
        Effect.suspend(() => {
          const letter = deadLetters.get(id)
          if (letter === undefined) {
            return Effect.fail(new DeadLetterNotFound({ message: `no dead letter with id ${id}`, id }))
          }
          deadLetters.delete(id)
          return Effect.as(wake([append(letter.event, [letter.target])]), letter)
        })
    }

    return { store, outbox }
  })

export const MemoryStoreLive = (options: MemoryStoreOptions) =>
  Layer.effectContext(
    Effect.map(makeMemoryStore(options), ({ outbox, store }) =>
      Context.make(SessionStore, store).pipe(Context.add(Outbox, outbox))
    )
  )
