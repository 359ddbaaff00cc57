/**
 * What the provider API clients (Genesys, Sunshine, CCP) share: their error, told in words
 * that answers may carry (a call by its template, a status, the provider's code: never a URL,
 * a configuration value or the provider's own words); the key and label of a credential; and
 * the tenant's config of the provider called. The resilient call over HttpClient is
 * ./providerHttp.ts; CCP keeps its own undici exchange (its polls are the hot path).
 */
import { Effect, Option, Redacted, Schema } from "effect"
import type { ProviderAlias } from "../domain/model.js"
import { configFor, type LivechatConfig } from "../domain/tenant.js"
import { noAnswerReason, noAnswerWords } from "../infra/outbound.js"
import { ProviderError } from "../services/errors.js"
import { sha256Hex } from "./signatures.js"

/** The providers the gateway calls over HTTP. */
export const ApiProvider = Schema.Literal("genesys-livechat", "zendesk", "cisco-livechat")
export type ApiProvider = typeof ApiProvider.Type

/** Each provider's API as answers and logs name it. */
const apiNames: Record<ApiProvider, string> = {
  "genesys-livechat": "Genesys",
  zendesk: "Sunshine",
  "cisco-livechat": "CCP"
}

/** A provider API call that failed: no usable answer, a refusal (`status`, the provider's `code`), or an answer the gateway cannot read. */
export class ProviderApiError extends Schema.TaggedError<ProviderApiError>()("ProviderApiError", {
  provider: ApiProvider,
  /** What the gateway's answer may say: `<API> <call> answered 404 not.found`, `<API> <call> is unreachable`. */
  message: Schema.String,
  status: Schema.optional(Schema.Int),
  /** The provider's code of a refusal (Genesys' `code`, Sunshine's `errors[0].code`, CCP's `errorType`). */
  code: Schema.optional(Schema.String)
}) {}

/** `provider`'s error saying `what` (the call, named by callName or its own word, e.g. "login") `happened`. */
export const apiError = (provider: ApiProvider, what: string, happened: string, status?: number) =>
  new ProviderApiError({
    provider,
    message: `${apiNames[provider]} ${what} ${happened}`,
    ...(status !== undefined ? { status } : {})
  })

/** A refusal, named by the call, the status and the provider's code: never the provider's own words, which may repeat what the call carried. */
export const refusal = (provider: ApiProvider, what: string, status: number, code: Option.Option<string>) =>
  new ProviderApiError({
    provider,
    message: `${apiNames[provider]} ${what} answered ${status}${
      Option.match(code, { onNone: () => "", onSome: (c) => ` ${c}` })
    }`,
    status,
    ...(Option.isSome(code) ? { code: code.value } : {})
  })

/** What a refusal's body says, as far as answers and logs may repeat it. */
export interface Refusal {
  readonly code: Option.Option<string>
  /** Log fields by which the provider's support finds the request (Genesys' contextId); never the provider's words. */
  readonly logged?: Readonly<Record<string, string>>
}

/**
 * `refusal`, and a log line of it: the call, the status, the provider's code and what the
 * provider's support finds the request by (`logged`, e.g. Genesys' contextId).
 */
export const refused = (
  provider: ApiProvider,
  what: string,
  status: number,
  { code, logged }: Refusal
) =>
  Effect.zipRight(
    Effect.logWarning(`${apiNames[provider]} refused a call`, {
      call: what,
      status,
      ...(Option.isSome(code) ? { code: code.value } : {}),
      ...logged
    }),
    Effect.fail(refusal(provider, what, status, code))
  )

/**
 * A call to `url` that got no usable answer: the error says "timed out", "answered more than
 * N bytes" or "is unreachable" (noAnswerWords); the cause goes to the log, here, once.
 */
export const noAnswer = (
  provider: ApiProvider,
  what: string,
  method: string,
  url: string,
  cause: unknown,
  maxBodyBytes: number
) => {
  const reason = noAnswerReason(cause)
  // The call by its template: its host and ids are the tenant's configuration; the network's cause (an address) is the operator's to see.
  const where = URL.canParse(url) ? new URL(url).pathname : url
  return Effect.as(
    Effect.logWarning(
      reason === "too-large" ? "a provider answered more than the gateway reads" : "a provider call got no answer",
      {
        provider,
        call: callName(method, where),
        reason: cause instanceof Error ? cause.message : String(cause)
      }
    ),
    apiError(provider, what, noAnswerWords(reason, maxBodyBytes))
  )
}

/**
 * The key of a credential: a digest of everything that makes it (the tenant first, then hosts,
 * ids and secrets; secrets digested on their own before), so that look-alikes never share
 * what is kept per credential (tokens, call gates, channels), and the key reveals none of it.
 */
export const credentialKey = (
  tenantId: string,
  parts: ReadonlyArray<string>,
  secrets: ReadonlyArray<Redacted.Redacted<string>>
) => sha256Hex(JSON.stringify([tenantId, ...parts, ...secrets.map((secret) => sha256Hex(Redacted.value(secret)))]))

/** Names a credential in logs: the tenant and the start of its key, nothing of the configuration. */
export const credentialLabel = (tenantId: string, key: string) => `tenant ${tenantId}, credentials ${key.slice(0, 8)}`

/** A path segment that is a word of the provider's API (`conversations`, `v2`, `passControl`), not an id. */
const apiWord = /^(?:[a-z][A-Za-z]*|v\d+)$/

/**
 * A provider call as answers name it: the method and the path with its ids left out
 * (`POST /api/v2/conversations/messages/{id}/inbound/open/message`): the ids are the tenant's
 * configuration (an integration, a queue) or its conversations', which an answer does not repeat.
 */
export const callName = (method: string, url: string) => {
  const path = url.split("?")[0]!
  return `${method} ${
    path
      .split("/")
      .map((segment) => (segment === "" || apiWord.test(segment) ? segment : "{id}"))
      .join("/")
  }`
}

/** The tenant's livechat config narrowed to `provider`; a config of another provider is the call's ProviderError. */
export const ownConfig = <P extends ProviderAlias>(config: LivechatConfig, provider: P) =>
  Option.match(configFor(config, provider), {
    onNone: () => Effect.fail(new ProviderError({ provider, message: `the tenant's livechat is ${config.provider}` })),
    onSome: (own) => Effect.succeed(own)
  })
