import { createHash } from "node:crypto"

/**
 * An event id's field in its session's seen hash: 16 base64url characters (96 bits) of its
 * SHA-256, whatever the id's length, so a session's hash stays in Redis's compact encoding
 * (fields of at most 64 bytes, up to 128 of them).
 */
export const seenField = (eventId: string) => createHash("sha256").update(eventId).digest("base64url").slice(0, 16)

/**
 * Every Redis key and channel of the gateway (the stores' and the cluster's), under one
 * prefix. The layout is documented in docs/redis-keys.md.
 */

export const redisKeys = (prefix: string) => ({
  session: (sessionId: string) => `${prefix}:s:${sessionId}`,
  sessionPrefix: `${prefix}:s:`,
  /** The subscriber's latest session not opened by a tenant-confined token (a platform token's look-ups). */
  subscriber: (subHandle: string) => `${prefix}:sub:${subHandle}`,
  tenantSubscriber: (tenantId: string, subHandle: string) =>
    `${prefix}:tsub:${encodeURIComponent(tenantId)}:${subHandle}`,
  // Ids that other parties choose (tenants, conversations) sit last or encoded, so that no two (tenant, id) pairs share a key.
  conversation: (provider: string, tenantId: string, conversationId: string) =>
    `${prefix}:conv:${provider}:${encodeURIComponent(tenantId)}:${conversationId}`,
  open: (partition: number) => `${prefix}:open:${partition}`,
  orgCounts: (organizationId: string) => `${prefix}:count:${organizationId}`,
  orgEnded: (organizationId: string) => `${prefix}:ended:${organizationId}`,
  tenantEnded: (organizationId: string, tenantId: string) =>
    `${prefix}:tended:${encodeURIComponent(organizationId)}:${tenantId}`,
  tenantWaits: (tenantId: string) => `${prefix}:waits:${tenantId}`,
  tenantWaitLog: (tenantId: string) => `${prefix}:waitlog:${tenantId}`,
  /** The tenant's pending requests of one queue ("" = none named), by creation time: a request's position is its rank. */
  pendingQueue: (tenantId: string, queue: string | undefined) =>
    `${prefix}:pendq:${encodeURIComponent(tenantId)}:${encodeURIComponent(queue ?? "")}`,
  /**
   * The tenant's open sessions of one status (pending or active) in creation order: members
   * `{created-at ms, 13 digits}:{sessionId}` of one score, so a page is one lexicographic range.
   */
  tenantOpen: (tenantId: string, status: "pending" | "active") =>
    `${prefix}:topen:${encodeURIComponent(tenantId)}:${status}`,
  /** The session's seen event ids, as `seenField`s of one hash: a few bytes an id, where a key each cost ~140. */
  seen: (sessionId: string) => `${prefix}:seen:${sessionId}`,
  /**
   * An event id's key as versions before the seen hash wrote it (one per id, 7 days): still
   * checked, so that an event seen before an upgrade (a Genesys re-read after the restart
   * brings them again) is not taken as new. Our session ids are UUIDs: the event id follows
   * it unambiguously.
   */
  seenBefore: (sessionId: string, eventId: string) => `${prefix}:seen:${sessionId}:${eventId}`,
  webhookSource: (provider: string, source: string) => `${prefix}:whsrc:${provider}:${source}`,
  messages: (sessionId: string) => `${prefix}:msg:${sessionId}`,
  messagesPrefix: `${prefix}:msg:`,
  activity: (sessionId: string) => `${prefix}:act:${sessionId}`,
  activityPrefix: `${prefix}:act:`,
  /** The session's timeline (docs/ARCHITECTURE.md#session-timeline). */
  timeline: (sessionId: string) => `${prefix}:tl:${sessionId}`,
  outbox: (partition: number) => `${prefix}:outbox:${partition}`,
  deadLetters: `${prefix}:dead`,
  outboxAppended: `${prefix}:outbox-appended`,
  // The cluster (src/cluster/RedisCoordinator.ts)
  member: (instanceId: string) => `${prefix}:member:${instanceId}`,
  members: `${prefix}:members`,
  leader: `${prefix}:leader`,
  leaderEpoch: `${prefix}:leader:epoch`,
  assignment: `${prefix}:assignment`,
  partitionLease: (partition: number) => `${prefix}:lease:${partition}`,
  clusterChannel: `${prefix}:cluster`,
  /** Where an instance listens for cluster calls (requests to it, and replies to its own calls). */
  rpcChannel: (instanceId: string) => `${prefix}:rpc:${instanceId}`
})
