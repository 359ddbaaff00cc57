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

/**
 * Each call with its path parameters percent-encoded: HttpApiClient puts them into the URL as
 * they are, so a subscriber handle holding `/`, `?` or `#` would name another route.
 */
const withEncodedPaths = <Calls extends object>(calls: Calls): Calls =>
  Object.fromEntries(
    Object.entries(calls).map(([name, call]) => [
      name,
      (request: { readonly path?: Readonly<Record<string, string>> } | undefined) =>
        (call as (request: unknown) => unknown)(
          request?.path === undefined ? request : {
            ...request,
            path: Object.fromEntries(Object.entries(request.path).map(([k, v]) => [k, encodeURIComponent(v)]))
          }
        )
    ])
  ) as Calls

const makeUpstream = (options: LcgClientOptions) =>
  Effect.flatMap(HttpClient.HttpClient, (httpClient) =>
    Effect.map(
      HttpApiClient.group(LcgApi, {
        group: "upstream",
        httpClient: HttpClient.mapRequest(httpClient, HttpClientRequest.bearerToken(options.token)),
        baseUrl: options.baseUrl
      }),
      withEncodedPaths
    ))

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

type Request<Call> = Call extends (request: infer R) => unknown ? Omit<R, "withResponse"> : never

/** What the HEAD routes answer in their headers, read for the Promise calls. */
export interface PromisedHeadAnswers {
  readonly countRequests: (request: Request<LcgUpstream["countRequests"]>) => Promise<{ readonly totalCount: number }>
  readonly waitingMetrics: (
    request: Request<LcgUpstream["waitingMetrics"]>
  ) => Promise<{ readonly averageWaitingSeconds: number; readonly waitingCount: number }>
}

/**
 * The upstream calls with Promises, on the platform's fetch. A failed call rejects with the
 * API's error itself (not a wrapper); the HEAD routes answer what their headers say;
 * `dispose` releases the client.
 */
export const createLcgClient = (
  options: LcgClientOptions
): Omit<Promised<LcgUpstream>, keyof PromisedHeadAnswers> & PromisedHeadAnswers & {
  readonly dispose: () => Promise<void>
} => {
  const runtime = ManagedRuntime.make(FetchHttpClient.layer)
  const upstream = runtime.runSync(makeUpstream(options))
  const run = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
    runtime.runPromiseExit(effect).then((exit) =>
      Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
    )
  const promised = Object.fromEntries(
    Object.entries(upstream).map(([name, call]) => [
      name,
      (...args: ReadonlyArray<unknown>) =>
        run((call as (...a: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>)(...args))
    ])
  ) as unknown as Promised<LcgUpstream>
  const header = (response: HttpClientResponse.HttpClientResponse, name: string) => Number(response.headers[name])
  return {
    ...promised,
    countRequests: (request) =>
      run(upstream.countRequests({ ...request, withResponse: true })).then(([, response]) => ({
        totalCount: header(response, "x-total-count")
      })),
    waitingMetrics: (request) =>
      run(upstream.waitingMetrics({ ...request, withResponse: true })).then(([, response]) => ({
        averageWaitingSeconds: header(response, "x-average-waiting-time"),
        waitingCount: header(response, "x-waiting-count")
      })),
    dispose: () => runtime.dispose()
  }
}
