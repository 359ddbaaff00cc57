/**
 * The shared provider call (providerHttp.ts) and Genesys' tokens on it, against a provider of
 * the test's own behind a fake HttpClient, on the TestClock: a 429 holds the credential set
 * back for its Retry-After; a refused token is dropped and replaced once; 5xx and transport
 * failures are retried only where a repeat is harmless; a failure without an answer is told by
 * its reason, never its cause; concurrent callers share one login.
 */
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer, Option, Redacted, Schema, TestClock } from "effect"
import { demoGenesys } from "../../sandbox/demoTenants.js"
import { credentialsOf, GenesysApi, GenesysApiLive } from "../../src/providers/genesys/client.js"
import { ProviderCallHealthLive } from "../../src/providers/providerCallHealth.js"
import { ProviderApiError } from "../../src/providers/providerCalls.js"
import { makeProviderHttp, type ProviderHttpPolicy } from "../../src/providers/providerHttp.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import type { ProviderCallHealth } from "../../src/services/ProviderCallHealth.js"

const config = AppConfig.layer({
  jwt: { secret: Redacted.make("s3cret") },
  hbfCore: { url: "http://core.local", token: Redacted.make("core-token") },
  hbfLcm: { url: "http://lcm.local", token: Redacted.make("lcm-token") },
  hbfBot: { url: "http://bot.local" },
  eventPublisherUrl: "http://publisher.local"
})
const MAX_BODY_BYTES = 1024 * 1024

interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  /** TestClock ms. */
  readonly at: number
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** A provider answering each request with `answer` (its failure is a transport error with that cause); keeps what it was sent. */
const fakeProvider = (
  answer: (request: HttpClientRequest.HttpClientRequest, path: string) => Effect.Effect<Response, unknown>
) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      seen.push({
        method: request.method,
        path: url.pathname,
        authorization: request.headers["authorization"],
        at: yield* Clock.currentTimeMillis
      })
      const response = yield* Effect.mapError(answer(request, url.pathname), (cause) =>
        new HttpClientError.RequestError({ request, reason: "Transport", cause }))
      return HttpClientResponse.fromWeb(request, response)
    })
  )
  return {
    layer: Layer.mergeAll(
      Layer.succeed(HttpClient.HttpClient, client),
      config,
      ProviderCallHealthLive.pipe(Layer.provide(config))
    ),
    seen,
    to: (path: string) => seen.filter((s) => s.path === path)
  }
}

const policy: ProviderHttpPolicy = {
  provider: "zendesk",
  maxInFlight: 4,
  rateLimitRetries: 2,
  rateLimitWait: (n) => Effect.succeed(Duration.seconds(2 ** n)),
  maxRetryAfter: Duration.seconds(60),
  transientRetries: 2,
  refusalOf: () => ({ code: Option.none() })
}

const thing = (credentials: string, path: string, repeatable = true, method: "GET" | "POST" = "GET") => ({
  credentials,
  label: `credentials ${credentials}`,
  baseUrl: "https://api.example",
  request: method === "GET" ? HttpClientRequest.get(path) : HttpClientRequest.post(path),
  answer: Schema.Struct({ ok: Schema.Boolean }),
  repeatable
})

describe("the shared provider call", () => {
  it.effect("a 429 holds the credential set back for its Retry-After, then the call goes through; another credential set's calls go on meanwhile", () =>
    Effect.gen(function*() {
      let limited = false
      const provider = fakeProvider((_request, path) => {
        if (path === "/one" && !limited) {
          limited = true
          return Effect.succeed(json(429, {}, { "retry-after": "5" }))
        }
        return Effect.succeed(json(200, { ok: true }))
      })
      const http = yield* Effect.provide(makeProviderHttp(policy), provider.layer)
      const held = yield* Effect.fork(http.call(thing("a", "/one")))
      yield* TestClock.adjust("1 second")
      const queued = yield* Effect.fork(http.call(thing("a", "/two")))
      expect(yield* http.call(thing("b", "/three"))).toEqual({ ok: true })
      yield* TestClock.adjust("3999 millis")
      expect(Option.isNone(yield* Fiber.poll(held))).toBe(true)
      expect(provider.to("/two")).toEqual([])
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(held)).toEqual({ ok: true })
      expect(yield* Fiber.join(queued)).toEqual({ ok: true })
      expect(provider.seen.map((s) => `${s.path} at ${s.at}`).sort()).toEqual([
        "/one at 0",
        "/one at 5000",
        "/three at 1000",
        "/two at 5000"
      ])
    }))

  it.effect("a 429 asking longer than maxRetryAfter fails the call at once; without Retry-After the provider's waits apply, up to the budget", () =>
    Effect.gen(function*() {
      const provider = fakeProvider((_request, path) =>
        Effect.succeed(path === "/patient" ? json(429, {}) : json(429, {}, { "retry-after": "3600" }))
      )
      const http = yield* Effect.provide(makeProviderHttp(policy), provider.layer)
      const impatient = yield* Effect.flip(http.call(thing("a", "/impatient")))
      expect(impatient).toMatchObject({
        _tag: "ProviderApiError",
        status: 429,
        message: "Sunshine GET /impatient answered 429"
      })
      expect(provider.to("/impatient")).toHaveLength(1)

      const patient = yield* Effect.fork(Effect.flip(http.call(thing("b", "/patient"))))
      yield* TestClock.adjust("3 seconds")
      expect((yield* Fiber.join(patient)).status).toBe(429)
      // 1 s, then 2 s: two retries, the policy's budget.
      expect(provider.to("/patient").map((s) => s.at)).toEqual([0, 1000, 3000])
    }))

  it.effect("a 5xx is retried after 200 ms and 400 ms only when the call is repeatable; a message post fails at once", () =>
    Effect.gen(function*() {
      let failures = 0
      const provider = fakeProvider((_request, path) =>
        Effect.succeed(
          path === "/flaky" && failures++ < 2
            ? json(503, {})
            : path === "/down"
            ? json(502, {})
            : json(200, { ok: true })
        )
      )
      const http = yield* Effect.provide(makeProviderHttp(policy), provider.layer)
      const flaky = yield* Effect.fork(http.call(thing("a", "/flaky")))
      yield* TestClock.adjust("600 millis")
      expect(yield* Fiber.join(flaky)).toEqual({ ok: true })
      expect(provider.to("/flaky").map((s) => s.at)).toEqual([0, 200, 600])

      const post = yield* Effect.flip(http.call(thing("a", "/down", false, "POST")))
      expect(post).toMatchObject({ status: 502, message: "Sunshine POST /down answered 502" })
      expect(provider.to("/down")).toHaveLength(1)

      const read = yield* Effect.fork(Effect.flip(http.call(thing("a", "/down"))))
      yield* TestClock.adjust("600 millis")
      expect((yield* Fiber.join(read)).status).toBe(502)
      expect(provider.to("/down")).toHaveLength(4)
    }))

  it.effect("no answer is told by its reason (timeout, an answer cut at the limit, unreachable), never by its cause; a repeatable call is tried three times", () =>
    Effect.gen(function*() {
      const causes: Record<string, unknown> = {
        "/slow": Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" }),
        "/endless": Object.assign(new Error("Response content exceeded max size"), {
          code: "UND_ERR_RES_EXCEEDED_MAX_SIZE"
        }),
        "/closed": Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:8443"), { code: "ECONNREFUSED" })
      }
      const provider = fakeProvider((_request, path) => Effect.fail(causes[path]))
      const http = yield* Effect.provide(makeProviderHttp(policy), provider.layer)
      const told = yield* Effect.forEach(
        Object.keys(causes),
        (path) => Effect.flip(http.call(thing("a", path, false, "POST")))
      )
      expect(told.map((e) => [e.message, e.status])).toEqual([
        ["Sunshine POST /slow timed out", undefined],
        [`Sunshine POST /endless answered more than ${MAX_BODY_BYTES} bytes`, undefined],
        ["Sunshine POST /closed is unreachable", undefined]
      ])
      expect(provider.seen).toHaveLength(3)

      const read = yield* Effect.fork(Effect.flip(http.call(thing("a", "/closed"))))
      yield* TestClock.adjust("600 millis")
      expect(yield* Fiber.join(read)).toBeInstanceOf(ProviderApiError)
      expect(provider.to("/closed").map((s) => s.at)).toEqual([0, 0, 200, 600])
    }))
})

describe("Genesys tokens", () => {
  const credentials = credentialsOf("t1", {
    ...demoGenesys,
    clientSecret: Redacted.make(demoGenesys.clientSecret),
    webhookSecret: Redacted.make(demoGenesys.webhookSecret),
    loginBaseUrl: "https://login.example",
    apiBaseUrl: "https://api.example"
  })
  const user = HttpClientRequest.get("/api/v2/users/u1")
  const User = Schema.Struct({ id: Schema.String })

  /** Genesys granting token-1, token-2, … (after `loginDelay`, each living `lifetimeSeconds`), its API refusing the tokens `refuses` names. */
  const fakeGenesys = (refuses: (token: string) => boolean, loginDelay = Duration.zero, lifetimeSeconds = 3600) => {
    let grants = 0
    const provider = fakeProvider((request, path) =>
      path === "/oauth/token"
        ? Effect.as(
          Effect.sleep(loginDelay),
          json(200, { access_token: `token-${++grants}`, token_type: "bearer", expires_in: lifetimeSeconds })
        )
        : Effect.succeed(
          refuses(request.headers["authorization"]!.replace("Bearer ", ""))
            ? json(401, { message: "Invalid login credentials", code: "bad.credentials", status: 401 })
            : json(200, { id: "u1" })
        )
    )
    return {
      ...provider,
      grants: () => grants,
      api: () => provider.seen.filter((s) => s.path !== "/oauth/token").map((s) => s.authorization)
    }
  }
  const apiOf = (layer: Layer.Layer<HttpClient.HttpClient | AppConfig | ProviderCallHealth>) =>
    Effect.provide(GenesysApi, GenesysApiLive.pipe(Layer.provide(layer)))

  it.effect("a refused token is dropped: the call is tried once more with a new one", () =>
    Effect.gen(function*() {
      const genesys = fakeGenesys((token) => token === "token-1")
      const api = yield* apiOf(genesys.layer)
      expect(yield* api.call(credentials, user, User)).toEqual({ id: "u1" })
      expect(genesys.api()).toEqual(["Bearer token-1", "Bearer token-2"])
      expect(genesys.grants()).toBe(2)
      // The new token is kept.
      expect(yield* api.call(credentials, user, User)).toEqual({ id: "u1" })
      expect(genesys.grants()).toBe(2)
    }))

  it.effect("a second refusal fails the call, typed, naming the call by its template and Genesys' code", () =>
    Effect.gen(function*() {
      const genesys = fakeGenesys(() => true)
      const api = yield* apiOf(genesys.layer)
      const refused = yield* Effect.flip(api.call(credentials, user, User))
      expect(refused).toBeInstanceOf(ProviderApiError)
      expect(refused).toMatchObject({
        provider: "genesys-livechat",
        status: 401,
        code: "bad.credentials",
        message: "Genesys GET /api/v2/users/{id} answered 401 bad.credentials"
      })
      expect(genesys.grants()).toBe(2)
      expect(genesys.api()).toHaveLength(2)
    }))

  it.effect("credentials refused for good cost one login per call, not two: the token got after a 401 is kept", () =>
    Effect.gen(function*() {
      const genesys = fakeGenesys(() => true)
      const api = yield* apiOf(genesys.layer)
      yield* Effect.flip(api.call(credentials, user, User))
      expect(genesys.grants()).toBe(2)
      yield* Effect.flip(api.call(credentials, user, User))
      expect(genesys.grants()).toBe(3)
      expect(genesys.api()).toEqual(["Bearer token-1", "Bearer token-2", "Bearer token-2", "Bearer token-3"])
    }))

  it.effect("a failed login is not kept: the next call, at the same instant, logs in anew", () =>
    Effect.gen(function*() {
      let logins = 0
      const provider = fakeProvider((_request, path) =>
        Effect.succeed(
          path === "/oauth/token"
            ? ++logins === 1
              ? json(503, { message: "unavailable", code: "service.unavailable", status: 503 })
              : json(200, { access_token: `token-${logins}`, token_type: "bearer", expires_in: 3600 })
            : json(200, { id: "u1" })
        )
      )
      const api = yield* apiOf(provider.layer)
      expect(yield* Effect.flip(api.call(credentials, user, User))).toMatchObject({ status: 503 })
      expect(yield* api.call(credentials, user, User)).toEqual({ id: "u1" })
      expect(logins).toBe(2)
    }))

  it.effect("concurrent callers share one login; the token is kept until shortly before it expires", () =>
    Effect.gen(function*() {
      const genesys = fakeGenesys(() => false, Duration.seconds(1), 300)
      const api = yield* apiOf(genesys.layer)
      const calls = yield* Effect.fork(
        Effect.all(Array.from({ length: 10 }, () => api.call(credentials, user, User)), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(calls)).toHaveLength(10)
      expect(genesys.grants()).toBe(1)
      // 300 s of life, used for 270 (a tenth kept in reserve), counted from the login's start.
      yield* TestClock.adjust("268 seconds")
      yield* api.call(credentials, user, User)
      expect(genesys.grants()).toBe(1)
      yield* TestClock.adjust("2 seconds")
      const renewed = yield* Effect.fork(api.call(credentials, user, User))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(renewed)
      expect(genesys.grants()).toBe(2)
      expect(genesys.api().at(-1)).toBe("Bearer token-2")
    }))

  it.effect("a login abandoned by the caller that started it fails the callers waiting for it, typed; the next call logs in anew", () =>
    Effect.gen(function*() {
      const genesys = fakeGenesys(() => false, Duration.seconds(1))
      const api = yield* apiOf(genesys.layer)
      const starter = yield* Effect.fork(api.call(credentials, user, User))
      yield* TestClock.adjust("100 millis")
      const waiter = yield* Effect.fork(Effect.flip(api.call(credentials, user, User)))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(starter)
      expect(yield* Fiber.join(waiter)).toMatchObject({
        _tag: "ProviderApiError",
        message: "Genesys login was abandoned; try again"
      })
      const again = yield* Effect.fork(api.call(credentials, user, User))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(again)).toEqual({ id: "u1" })
      // The abandoned login, and the new one.
      expect(genesys.grants()).toBe(2)
      expect(genesys.api()).toEqual(["Bearer token-2"])
    }))

  it.effect("look-alike credentials (the same client id, another secret) never share a token", () =>
    Effect.gen(function*() {
      const genesys = fakeGenesys(() => false)
      const api = yield* apiOf(genesys.layer)
      const lookalike = credentialsOf("t2", {
        ...demoGenesys,
        clientSecret: Redacted.make("a-guess"),
        webhookSecret: Redacted.make(demoGenesys.webhookSecret),
        loginBaseUrl: "https://login.example",
        apiBaseUrl: "https://api.example"
      })
      yield* api.call(credentials, user, User)
      yield* api.call(lookalike, user, User)
      yield* api.call(credentials, user, User)
      expect(genesys.api()).toEqual(["Bearer token-1", "Bearer token-2", "Bearer token-1"])
    }))
})
