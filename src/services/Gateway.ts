import type { Effect } from "effect"
import { Context } from "effect"
import type {
  Availability,
  CreateRequest,
  ForwardMessage,
  LivechatState,
  MessageAccepted,
  ProviderAlias,
  ProviderEvent,
  Session,
  SessionRecord,
  TypingAccepted,
  UpdateRequest,
  UserTyping
} from "../domain/model.js"
import type { TenantAccess } from "../domain/access.js"
import type {
  BadRequest,
  Forbidden,
  InvalidSignature,
  InvalidTransition,
  LivechatNotConfigured,
  LivechatUnavailable,
  MalformedWebhook,
  ProviderError,
  MessageInFlight,
  PayloadTooLarge,
  SessionEnded,
  SessionNotFound,
  SessionOpenElsewhere,
  StoreUnavailable,
  TenantNotFound,
  UnknownProvider,
  UpstreamUnavailable
} from "./errors.js"
import type { IncomingWebhook } from "./LivechatProvider.js"
import type { StatusFilter } from "./SessionStore.js"

export interface WaitingMetrics {
  /** Whole seconds. */
  readonly averageWaitingSeconds: number
  readonly waitingCount: number
}

export interface IngestResult {
  /** Events persisted now (duplicates and dropped events are not counted). */
  readonly accepted: number
  /** Conversations the gateway does not know. */
  readonly unknown: number
}

/**
 * The use cases behind every route, and the event path. The upstream ones act within the
 * caller's `access` (docs/SECURITY.md): another tenant's session is one that does not exist,
 * and another tenant's configuration is Forbidden.
 */
export interface GatewayService {
  readonly create: (
    request: CreateRequest,
    access: TenantAccess
  ) => Effect.Effect<
    { readonly created: boolean; readonly session: Session },
    | Forbidden
    | TenantNotFound
    | LivechatNotConfigured
    | LivechatUnavailable
    | SessionOpenElsewhere
    | ProviderError
    | UpstreamUnavailable
    | StoreUnavailable
  >
  /** The subscriber's open session (in `tenantId` when given) cancelled or updated. */
  readonly update: (
    subHandle: string,
    patch: UpdateRequest,
    access: TenantAccess,
    tenantId?: string
  ) => Effect.Effect<Session, BadRequest | SessionNotFound | InvalidTransition | StoreUnavailable>
  readonly terminate: (tenantId: string, subHandle: string, access: TenantAccess) => Effect.Effect<void, SessionNotFound | StoreUnavailable>
  readonly forwardMessage: (
    message: ForwardMessage,
    access: TenantAccess
  ) => Effect.Effect<MessageAccepted, SessionNotFound | SessionEnded | ProviderError | MessageInFlight | StoreUnavailable>
  /** Tells the agent that the user is typing, where the provider can. */
  readonly userTyping: (
    typing: UserTyping,
    access: TenantAccess
  ) => Effect.Effect<TypingAccepted, SessionNotFound | SessionEnded | ProviderError | StoreUnavailable>
  /** Sessions of the organization (of the caller's tenants in it). */
  readonly count: (organizationId: string, status: StatusFilter, access: TenantAccess) => Effect.Effect<number, StoreUnavailable>
  readonly waitingMetrics: (
    tenantId: string,
    windowSeconds: number,
    access: TenantAccess
  ) => Effect.Effect<WaitingMetrics, Forbidden | StoreUnavailable>
  /** The subscriber's latest livechat (in `tenantId` when given). */
  readonly state: (subHandle: string, access: TenantAccess, tenantId?: string) => Effect.Effect<LivechatState, StoreUnavailable>
  readonly availability: (tenantId: string, access: TenantAccess) => Effect.Effect<Availability, Forbidden | TenantNotFound | UpstreamUnavailable>
  /**
   * A provider webhook: authenticated first (its header, the sender it claims, that sender's
   * tenants' secrets; one InvalidSignature for every failure), then decoded and ingested.
   */
  readonly ingestWebhook: (
    alias: string,
    webhook: IncomingWebhook
  ) => Effect.Effect<
    IngestResult,
    UnknownProvider | MalformedWebhook | PayloadTooLarge | InvalidSignature | UpstreamUnavailable | StoreUnavailable
  >
  /** Events of one provider conversation of a tenant (socket): de-duplicated, applied, queued for delivery. */
  readonly ingest: (
    provider: ProviderAlias,
    tenantId: string,
    conversationId: string,
    events: ReadonlyArray<ProviderEvent>
  ) => Effect.Effect<IngestResult, StoreUnavailable>
  /**
   * Events a poller read for one session, committed together with the poller's cursor
   * (merged into the session's `providerState`), so a restart or a failover resumes right
   * after them. Answers how many were accepted and whether the session is still open.
   */
  readonly ingestPolled: (
    sessionId: string,
    events: ReadonlyArray<ProviderEvent>,
    providerState: Readonly<Record<string, unknown>>
  ) => Effect.Effect<{ readonly accepted: number; readonly open: boolean }, StoreUnavailable>
  /** Ends the sessions of one partition that are past their tenant's timeouts: how many, and the provider and status of those still open. */
  readonly sweepTimeouts: (partition: number) => Effect.Effect<SweepResult, StoreUnavailable>
}

export interface SweepResult {
  readonly ended: number
  readonly open: ReadonlyArray<Pick<SessionRecord, "provider" | "status">>
}

export class Gateway extends Context.Tag("hbf-lcg/Gateway")<Gateway, GatewayService>() {}
