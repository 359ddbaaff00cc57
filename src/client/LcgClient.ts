/**
 * The typed client of the gateway's upstream API, the calls hbf-bot makes (open a livechat,
 * forward the user's messages and typing, read a subscriber's state, end it), built from the
 * one HttpApi definition (src/http/api.ts) with HttpApiClient: its paths, payloads, answers and
 * errors are the server's own, so a change to the API is a type error in the caller.
 *
 * From Effect: `LcgClient.layer(options)` (needs an HttpClient, e.g. FetchHttpClient.layer).
 * From plain TypeScript: `createLcgClient(options)`, the same calls returning Promises that
 * reject with the API's typed errors (`error._tag`: "SessionNotFound", "SessionEnded", …).
 */
import {
  FetchHttpClient,
  HttpApiClient,
  HttpClient,
  HttpClientRequest,
  type HttpClientResponse
} from "@effect/platform"
import { Cause, Context, Effect, Exit, Layer, ManagedRuntime } from "effect"
import { LcgApi } from "../http/api.js"

export interface LcgClientOptions {
  /** Where the gateway answers, e.g. `http://localhost:3000`. */
  readonly baseUrl: string
  /** An upstream token (a JWT signed with the gateway's secret), sent as a bearer token. */
  readonly token: string
}

const makeUpstream = (options: LcgClientOptions) =>
  Effect.flatMap(HttpClient.HttpClient, (httpClient) =>
    HttpApiClient.group(LcgApi, {
      group: "upstream",
      httpClient: HttpClient.mapRequest(httpClient, HttpClientRequest.bearerToken(options.token)),
      baseUrl: options.baseUrl
    }))

/** The upstream calls, each an Effect failing with the API's typed errors. */
export type LcgUpstream = Effect.Effect.Success<ReturnType<typeof makeUpstream>>

export class LcgClient extends Context.Tag("hbf-lcg/LcgClient")<LcgClient, LcgUpstream>() {
  static readonly layer = (options: LcgClientOptions): Layer.Layer<LcgClient, never, HttpClient.HttpClient> =>
    Layer.effect(LcgClient, makeUpstream(options))
}

/** A call's answer without the raw response a `withResponse` call adds (the Promise calls never ask for it). */
type Answer<A> = A extends readonly [unknown, HttpClientResponse.HttpClientResponse] ? never : A

/** Each call of `Calls` as a function returning a Promise of its answer. */
export type Promised<Calls> = {
  readonly [K in keyof Calls]: Calls[K] extends (...args: infer P) => Effect.Effect<infer A, infer _E, infer _R>
    ? (...args: P) => Promise<Answer<A>>
    : never
}

/**
 * The upstream calls with Promises, on the platform's fetch. A failed call rejects with the
 * API's error itself (not a wrapper); `dispose` releases the client.
 */
export const createLcgClient = (
  options: LcgClientOptions
): Promised<LcgUpstream> & { readonly dispose: () => Promise<void> } => {
  const runtime = ManagedRuntime.make(FetchHttpClient.layer)
  const upstream = runtime.runSync(makeUpstream(options))
  const promised = Object.fromEntries(
    Object.entries(upstream).map(([name, call]) => [
      name,
      (...args: ReadonlyArray<unknown>) =>
        runtime.runPromiseExit((call as (...a: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>)(...args))
          .then((exit) => (Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))))
    ])
  ) as unknown as Promised<LcgUpstream>
  return { ...promised, dispose: () => runtime.dispose() }
}
