/**
 * How the simulators answer: JSON bodies, early answers (`Reject`), and each simulated
 * service's own wording of a refusal (`Refusals`): hbf-* and every sandbox route say
 * `{ error, message }`, Genesys `{ message, code, status, … }`, Sunshine `{ errors: [{ code, title }] }`,
 * CCP `<apiErrors>`.
 */
import { HttpServerResponse } from "@effect/platform"
import { Data, Effect, ParseResult } from "effect"

/** Short-circuits a handler with a ready response (a rejection, a simulated failure). */
export class Reject extends Data.TaggedError("Reject")<{ readonly response: HttpServerResponse.HttpServerResponse }> {}

export const json = (
  status: number,
  body: unknown,
  headers?: Record<string, string>
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, { status, ...(headers !== undefined ? { headers } : {}) })

export const noContent: HttpServerResponse.HttpServerResponse = HttpServerResponse.empty({ status: 204 })

/** Turns a handler that may `Reject` into a plain route handler. */
export const handle = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.catchTag(effect, "Reject", (r) => Effect.succeed(r.response))

// ---- a service's wording of a refusal ----

export interface Refusals {
  /** A refusal with this status and message (and headers, e.g. Retry-After). */
  readonly refuse: (
    status: number,
    message: string,
    headers?: Record<string, string>
  ) => HttpServerResponse.HttpServerResponse
  /** A body that does not decode: 400 naming every bad field. */
  readonly invalid: (error: ParseResult.ParseError) => HttpServerResponse.HttpServerResponse
}

export const refuse = (
  refusals: Pick<Refusals, "refuse">,
  status: number,
  message: string,
  headers?: Record<string, string>
): Effect.Effect<never, Reject> => Effect.fail(new Reject({ response: refusals.refuse(status, message, headers) }))

export interface FieldIssue {
  readonly path: string
  readonly message: string
}

/** Each issue of a JSON body with the field it names (`channel.from.id`; `(body)` for the body itself). */
export const fieldIssues = (error: ParseResult.ParseError): ReadonlyArray<FieldIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0
      ? { path: "(body)", message: issue._tag === "Type" ? "must be a JSON object" : issue.message }
      : { path: issue.path.map(String).join("."), message: issue.message }
  )

/** `field: what; field: what`: one message naming every bad field. */
export const describeIssues = (issues: ReadonlyArray<FieldIssue>): string =>
  issues.map((f) => `${f.path}: ${f.message}`).join("; ")

export const errorBody = (error: string, message: string, details?: Record<string, unknown>) => ({
  error,
  message,
  ...details
})

const errorNames: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  404: "NotFound",
  409: "Conflict",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  423: "Locked",
  500: "InternalError",
  502: "BadGateway",
  503: "ServiceUnavailable"
}

/** `{ error, message }` (and `fields` for a bad body): hbf-*'s wording, and every sandbox route's. */
export const plainRefusals: Refusals = {
  refuse: (status, message, headers) => json(status, errorBody(errorNames[status] ?? "Error", message), headers),
  invalid: (error) => {
    const fields = fieldIssues(error)
    return json(400, errorBody("BadRequest", describeIssues(fields), { fields }))
  }
}

/** A `{ error, message, ...details }` refusal with its own error name (`SimulatedFailure`). */
export const reject = (
  status: number,
  error: string,
  message: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>
): Effect.Effect<never, Reject> =>
  Effect.fail(new Reject({ response: json(status, errorBody(error, message, details), headers) }))

/**
 * A scripting call on a sandbox route: `ok` with its result, or the misuse it failed with
 * (an unknown conversation, no agent connected) as a refusal of that status.
 */
export const simAnswer = <A, E extends { readonly status: number; readonly message: string }>(
  refusals: Refusals,
  effect: Effect.Effect<A, E>,
  ok: (a: A) => HttpServerResponse.HttpServerResponse
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.match(effect, { onSuccess: ok, onFailure: (e) => refusals.refuse(e.status, e.message) })
