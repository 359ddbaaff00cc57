import type { Effect } from "effect"
import { Context } from "effect"
import type { TenantAccess } from "../domain/access.js"
import type {
  ForwardMessage,
  MessageAccepted,
  ReadAccepted,
  TypingAccepted,
  UserRead,
  UserTyping
} from "../domain/model.js"
import type {
  MessageIdReused,
  MessageInFlight,
  ProviderError,
  SessionEnded,
  SessionNotFound,
  StoreUnavailable
} from "./errors.js"

/** What the user says to the agent, within the caller's `access` (docs/SECURITY.md). */
export interface MessagingService {
  /** Forwarded to the session's provider once per messageId: a retry gets the first forward's answer. */
  readonly forwardMessage: (
    message: ForwardMessage,
    access: TenantAccess
  ) => Effect.Effect<
    MessageAccepted,
    SessionNotFound | SessionEnded | ProviderError | MessageInFlight | MessageIdReused | StoreUnavailable
  >
  /** Tells the agent that the user is typing, where the provider can. */
  readonly userTyping: (
    typing: UserTyping,
    access: TenantAccess
  ) => Effect.Effect<TypingAccepted, SessionNotFound | SessionEnded | ProviderError | StoreUnavailable>
  /** Tells the agent that the user has read the conversation, where the provider takes read receipts. */
  readonly userRead: (
    read: UserRead,
    access: TenantAccess
  ) => Effect.Effect<ReadAccepted, SessionNotFound | SessionEnded | ProviderError | StoreUnavailable>
}

export class Messaging extends Context.Tag("hbf-lcg/Messaging")<Messaging, MessagingService>() {}
