import type { Effect } from "effect"
import { Context } from "effect"
import type { ProviderAlias, ProviderEvent } from "../domain/model.js"
import type { EventVia } from "../domain/timeline.js"
import type {
  InvalidSignature,
  MalformedWebhook,
  PayloadTooLarge,
  StoreUnavailable,
  UnknownProvider,
  UpstreamUnavailable
} from "./errors.js"
import type { IncomingWebhook } from "./LivechatProvider.js"

export interface IngestResult {
  /** Events persisted now (duplicates and dropped events are not counted). */
  readonly accepted: number
  /** Conversations the gateway does not know. */
  readonly unknown: number
}

/** The event path: provider events (webhooks, sockets, pollers) de-duplicated, applied to their session and queued for delivery. */
export interface IngestService {
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
  /**
   * Events of one provider conversation of a tenant, de-duplicated, applied, queued for
   * delivery; `via` is how they came, for the session's timeline: a notification socket, or a
   * re-read of the conversation (`poll`).
   */
  readonly ingest: (
    provider: ProviderAlias,
    tenantId: string,
    conversationId: string,
    events: ReadonlyArray<ProviderEvent>,
    via: Exclude<EventVia, "webhook">
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
}

export class Ingest extends Context.Tag("hbf-lcg/Ingest")<Ingest, IngestService>() {}
