/**
 * Domain errors. Each carries a `message` that says what was wrong; their HTTP statuses
 * and wire bodies are decided in one place, src/http/errors.ts.
 */
import { Data, type ParseResult, Schema } from "effect"
import { ProviderAlias, type ProviderEvent, SessionStatus } from "../domain/model.js"
import { describeIssuesInline } from "../domain/schemaIssues.js"

export class TenantNotFound extends Schema.TaggedError<TenantNotFound>()("TenantNotFound", {
  message: Schema.String,
  tenantId: Schema.String
}) {}

export class LivechatNotConfigured extends Schema.TaggedError<LivechatNotConfigured>()("LivechatNotConfigured", {
  message: Schema.String,
  tenantId: Schema.String
}) {}

export class LivechatUnavailable extends Schema.TaggedError<LivechatUnavailable>()("LivechatUnavailable", {
  message: Schema.String,
  reason: Schema.Literal("outside-business-hours", "no-agents", "provider-unreachable"),
  nextOpenAt: Schema.optional(Schema.String)
}) {}

export class SessionOpenElsewhere extends Schema.TaggedError<SessionOpenElsewhere>()("SessionOpenElsewhere", {
  message: Schema.String,
  subHandle: Schema.String
}) {}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  message: Schema.String
}) {}

export class SessionEnded extends Schema.TaggedError<SessionEnded>()("SessionEnded", {
  message: Schema.String,
  sessionId: Schema.String
}) {}

/** An earlier request with the same messageId is still being forwarded: its outcome is not known yet, so retry. */
export class MessageInFlight extends Schema.TaggedError<MessageInFlight>()("MessageInFlight", {
  message: Schema.String,
  messageId: Schema.String
}) {}

/** A messageId already used for a message with other text or attachments: the new message would be lost as a retry of the first. */
export class MessageIdReused extends Schema.TaggedError<MessageIdReused>()("MessageIdReused", {
  message: Schema.String,
  messageId: Schema.String
}) {}

export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  message: Schema.String,
  status: SessionStatus
}) {}

/**
 * The provider answered a call for the user (a message, typing) by saying the conversation is
 * over, before the gateway had heard it: `events` are what the provider shows of the end (with
 * the ids its own feed gives them), for the session to end now. Never an HTTP answer itself: the
 * caller ends the session and answers SessionEnded.
 */
export class ConversationOver extends Data.TaggedError("ConversationOver")<{
  readonly provider: ProviderAlias
  readonly message: string
  readonly events: ReadonlyArray<ProviderEvent>
}> {}

/** The contact center refused or failed a call the gateway made on the user's behalf. */
export class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  message: Schema.String,
  provider: ProviderAlias
}) {}

/** A platform service the gateway depends on (hbf-core, ...) failed after retries. */
export class UpstreamUnavailable extends Schema.TaggedError<UpstreamUnavailable>()("UpstreamUnavailable", {
  message: Schema.String,
  service: Schema.String
}) {}

export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  message: Schema.String
}) {}

export class UnknownProvider extends Schema.TaggedError<UnknownProvider>()("UnknownProvider", {
  message: Schema.String,
  alias: Schema.String
}) {}

/** A provider webhook that could not be verified: no or a malformed signature, an unknown sender, or a signature that does not match (one answer for all). */
export class InvalidSignature extends Schema.TaggedError<InvalidSignature>()("InvalidSignature", {
  message: Schema.String
}) {}

/** A provider webhook whose body is not what the provider documents. */
export class MalformedWebhook extends Schema.TaggedError<MalformedWebhook>()("MalformedWebhook", {
  message: Schema.String
}) {}

/** The webhook body's decoding failure, as one message naming each bad field (by path, as every decode failure is told). */
export const malformedWebhook = (error: ParseResult.ParseError) =>
  new MalformedWebhook({ message: describeIssuesInline(error) })

/**
 * A request that decodes but breaks a limit together with what the session holds (metadata
 * merged into the session's): answered as a body that does not decode is, naming the field.
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  message: Schema.String,
  fields: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {}

/** More than a request may carry (a webhook's events beyond its limit). */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  message: Schema.String
}) {}

export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", {
  message: Schema.String,
  id: Schema.String
}) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}) {}

/** Another instance did not answer a cluster call in time (it may be paused, overloaded or gone). */
export class ClusterCallTimeout extends Schema.TaggedError<ClusterCallTimeout>()("ClusterCallTimeout", {
  message: Schema.String,
  instanceId: Schema.String,
  call: Schema.String
}) {}

/** No instance of that id listens for cluster calls (it left or died), or the call could not be sent. */
export class InstanceUnreachable extends Schema.TaggedError<InstanceUnreachable>()("InstanceUnreachable", {
  message: Schema.String,
  instanceId: Schema.String
}) {}
