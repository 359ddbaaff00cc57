import type { Effect, Option } from "effect"
import { Context, Duration } from "effect"
import type { LivechatEvent, MessageDelivery, ProviderAlias, SessionRecord, SessionStatus } from "../domain/model.js"
import type { StoreUnavailable } from "./errors.js"

/**
 * A claimed message whose forward was neither completed nor released within this (its
 * instance died, or the store was away when the result was to be recorded) can be claimed
 * again, so a retry may send it once more.
 */
export const MESSAGE_CLAIM_LEASE = Duration.minutes(2)

/**
 * One atomic change to a session: compare-and-set on `version`, event ids marked seen (for
 * this session: another session's ids never count), events appended to the outbox. All or nothing.
 */
export interface SessionChange {
  readonly expectedVersion: number
  /** The new record; its `version` is `expectedVersion + 1`. */
  readonly next: SessionRecord
  /** Event ids to remember as seen in this session; the change is refused as "duplicate" if any already is. */
  readonly seen?: ReadonlyArray<string>
  /** Appended to the outbox partition of the session, in order. */
  readonly events?: ReadonlyArray<LivechatEvent>
  /**
   * The `lastActivityAt` the change was decided on (a timeout): the change is refused as a
   * "conflict" when a later activity was recorded beside the record since, which the version
   * does not show (see `completeMessage`).
   */
  readonly expectedActivity?: string
}

export type CommitResult = "committed" | "conflict" | "duplicate"

export type CreateResult =
  | { readonly _tag: "Created" }
  /**
   * The subscriber already has an open session: in this tenant, or (for a session not
   * `confined`) one a platform token opened in another tenant.
   */
  | { readonly _tag: "Open"; readonly existing: SessionRecord }

/** What a user message forwarded to the provider returned, remembered per messageId. */
export interface ForwardedMessage {
  readonly providerMessageId?: string
  /** What the provider made of the message; absent in results stored before deliveries were kept. */
  readonly delivery?: MessageDelivery
}

/**
 * A user message's claim. `fingerprint` (a digest of the message's text and attachments) tells
 * a retry of the message from another message sent under the same id; a claim written before
 * fingerprints were kept has none.
 */
export type MessageReservation =
  | { readonly _tag: "Reserved" }
  | { readonly _tag: "InFlight"; readonly fingerprint?: string }
  | { readonly _tag: "Forwarded"; readonly result: ForwardedMessage; readonly fingerprint?: string }

export interface WaitingStats {
  /** Mean of assignedAt - createdAt over sessions assigned since the window's start, in seconds. */
  readonly averageSeconds: number
  readonly assigned: number
  /** Sessions of the tenant waiting for an agent now. */
  readonly pending: number
}

export type StatusFilter = SessionStatus | "open"

/** The open sessions a listing asks for: `open` is pending and active. */
export type OpenStatusFilter = "pending" | "active" | "open"

/**
 * Where a page of a tenant's open sessions starts: after this session in creation order
 * (created-at ms, then session id). A session that ended since keeps its place in that order,
 * so pages neither skip nor repeat a session as others end between them.
 */
export interface OpenSessionsCursor {
  readonly createdAtMs: number
  readonly sessionId: string
}

export interface OpenSessionsPage {
  /** Oldest first (created-at, then session id). */
  readonly sessions: ReadonlyArray<SessionRecord>
  /** Where the next page starts; none on the last page. */
  readonly next?: OpenSessionsCursor
}

/**
 * A webhook is verified against at most this many tenants of its source, the most recently
 * remembered: tenants that share one webhook secret (one Sunshine app serving several bots).
 * Beyond it, the oldest tenants' webhooks are answered as unknown conversations (their polling
 * backstop still reads the messages).
 */
export const WEBHOOK_SOURCE_TENANTS = 32

/**
 * Sessions, their indices (subscriber, provider conversation, organization, pending queue), counters,
 * event de-duplication and forwarded-message idempotency. Counters and indices are kept
 * by the store itself from each change's old and new record, so they cannot drift.
 */
export interface SessionStoreService {
  /**
   * Inserts a new session unless the subscriber already has an open one in its tenant, or,
   * unless the new one is `confined`, an open one that was not confined in any tenant.
   */
  readonly create: (record: SessionRecord) => Effect.Effect<CreateResult, StoreUnavailable>
  readonly get: (sessionId: string) => Effect.Effect<Option.Option<SessionRecord>, StoreUnavailable>
  /**
   * The subscriber's latest session in `tenantId`; without a tenant, its latest session that
   * is not `confined` (the one a platform token's look-up finds).
   */
  readonly latestBySubscriber: (
    subHandle: string,
    tenantId?: string
  ) => Effect.Effect<Option.Option<SessionRecord>, StoreUnavailable>
  /**
   * The session of a provider conversation of one tenant: the index is the tenant's own, so
   * another tenant naming the same conversation id never takes it over.
   */
  readonly byConversation: (
    provider: ProviderAlias,
    tenantId: string,
    conversationId: string
  ) => Effect.Effect<Option.Option<SessionRecord>, StoreUnavailable>
  readonly commit: (change: SessionChange) => Effect.Effect<CommitResult, StoreUnavailable>
  /** The ids among `ids` already seen in the session. */
  readonly seen: (sessionId: string, ids: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>, StoreUnavailable>
  /** Sessions of the organization in `status`; with `tenants`, only those of these tenants. */
  readonly count: (
    organizationId: string,
    status: StatusFilter,
    tenants?: ReadonlyArray<string>
  ) => Effect.Effect<number, StoreUnavailable>
  readonly waitingStats: (tenantId: string, sinceMillis: number) => Effect.Effect<WaitingStats, StoreUnavailable>
  /**
   * A pending session's position among its tenant's pending sessions of the same `queue`, by
   * creation time (1 = next), across the cluster: an index the store keeps from each change
   * (docs/ARCHITECTURE.md#queue-figures). None when the session is not pending, or was stored
   * by a version that kept no such index and has not changed since.
   */
  readonly queuePosition: (
    session: Pick<SessionRecord, "sessionId" | "tenantId" | "queue">
  ) => Effect.Effect<Option.Option<number>, StoreUnavailable>
  /**
   * A page of the tenant's open sessions in `status`, oldest first, after `after`: an index the
   * store keeps from each change (one per tenant and open status), so a page costs its own
   * size and a look-up, never a walk over the tenant's sessions.
   */
  readonly openSessionsOfTenant: (
    tenantId: string,
    status: OpenStatusFilter,
    after: OpenSessionsCursor | undefined,
    limit: number
  ) => Effect.Effect<OpenSessionsPage, StoreUnavailable>
  /** The open sessions of one partition, for its timeout sweeper (which runs where the partition is owned). */
  readonly openSessions: (partition: number) => Effect.Effect<ReadonlyArray<SessionRecord>, StoreUnavailable>
  /** Claims a user message for forwarding, or tells what an earlier forward of it returned. */
  readonly reserveMessage: (
    sessionId: string,
    messageId: string,
    fingerprint: string
  ) => Effect.Effect<MessageReservation, StoreUnavailable>
  /**
   * The subscriber's latest session in the tenant (as `latestBySubscriber`), with the message
   * claimed in it (as `reserveMessage`): the forward path's look-up and claim in one round trip
   * (perf: docs/ARCHITECTURE.md#perf-store-round-trips). The caller gives the claim back if the
   * session turns out not to be the one to forward to.
   */
  readonly reserveSubscriberMessage: (
    subHandle: string,
    tenantId: string,
    messageId: string,
    fingerprint: string
  ) => Effect.Effect<
    Option.Option<{ readonly session: SessionRecord; readonly reservation: MessageReservation }>,
    StoreUnavailable
  >
  /**
   * Remembers what forwarding the message returned, and `at` (ISO time) as the session's last
   * activity if it is still open. The activity is kept beside the record, not in it: a write
   * per user message that neither rewrites the record nor bumps its version, so only a change
   * decided on the activity (a timeout, `expectedActivity`) can conflict with it. Every record
   * read carries it (`withActivity`) (perf: docs/ARCHITECTURE.md#perf-activity-beside-record).
   */
  readonly completeMessage: (
    sessionId: string,
    messageId: string,
    fingerprint: string,
    result: ForwardedMessage,
    at: string
  ) => Effect.Effect<void, StoreUnavailable>
  /** Gives a reservation back after a failed forward, so a retry may try again. */
  readonly releaseMessage: (sessionId: string, messageId: string) => Effect.Effect<void, StoreUnavailable>
  /**
   * Remembers that `tenantId` receives the webhooks a provider sends in the name of `source`
   * (a Sunshine app), so that such a webhook can be verified with the right tenants' secrets
   * before anything in it is looked at.
   */
  readonly rememberWebhookSource: (
    provider: ProviderAlias,
    source: string,
    tenantId: string
  ) => Effect.Effect<void, StoreUnavailable>
  /** The tenants remembered for `source`, the most recently remembered first, at most WEBHOOK_SOURCE_TENANTS. */
  readonly webhookSourceTenants: (
    provider: ProviderAlias,
    source: string
  ) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  /** True when the store can serve requests (readiness). */
  readonly ping: Effect.Effect<boolean>
}

/**
 * The record as read: its `lastActivityAt` is the later of its own and the activity kept beside
 * it (ISO times compare as strings) (perf: docs/ARCHITECTURE.md#perf-activity-beside-record).
 */
export const withActivity = (record: SessionRecord, activity: string | null | undefined): SessionRecord =>
  activity != null && activity > record.lastActivityAt ? { ...record, lastActivityAt: activity } : record

export class SessionStore extends Context.Tag("hbf-lcg/SessionStore")<SessionStore, SessionStoreService>() {}
