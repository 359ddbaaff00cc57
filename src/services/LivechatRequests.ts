import type { Effect } from "effect"
import { Context } from "effect"
import type { TenantAccess } from "../domain/access.js"
import type { CreateRequest, Session, UpdateRequest } from "../domain/model.js"
import type {
  BadRequest,
  Forbidden,
  InvalidTransition,
  LivechatNotConfigured,
  LivechatUnavailable,
  ProviderError,
  SessionNotFound,
  SessionOpenElsewhere,
  StoreUnavailable,
  TenantNotFound,
  UpstreamUnavailable
} from "./errors.js"

/**
 * A subscriber's livechat request: opened, updated or cancelled, terminated. Acts within the
 * caller's `access` (docs/SECURITY.md): another tenant's session is one that does not exist,
 * and another tenant is Forbidden.
 */
export interface LivechatRequestsService {
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
  readonly terminate: (
    tenantId: string,
    subHandle: string,
    access: TenantAccess
  ) => Effect.Effect<void, SessionNotFound | StoreUnavailable>
}

export class LivechatRequests
  extends Context.Tag("hbf-lcg/LivechatRequests")<LivechatRequests, LivechatRequestsService>()
{}
