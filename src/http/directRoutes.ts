/**
 * The hot endpoints (POST /messages, POST /typing, POST /read, POST /events/:alias) served straight
 * from node:http, and everything else through the HttpApi's own server.
 *
 * @effect/platform-node's request path (request wrapper, router, middleware chain, response
 * conversion) measured several times the cost of the handler itself
 * (perf: docs/ARCHITECTURE.md#perf-direct-routes). These routes are still defined once, in
 * `api.ts`: their paths, payload schemas, success schemas and statuses, and error schemas and
 * statuses are read from the HttpApi endpoint, their handlers are the ones `handlers.ts`
 * registers, and a request they do not take (another method, another content type: 405 and
 * 415 are the HttpApi server's answers) goes to the HttpApi server as before.
 */
import {
  HttpApi,
  type HttpApiEndpoint,
  HttpApiSchema,
  HttpServer,
  HttpServerError,
  HttpTraceContext
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import {
  Cause,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  FiberRef,
  FiberRefs,
  Layer,
  LogLevel,
  Option,
  ParseResult,
  Redacted,
  Runtime,
  Schema,
  SchemaAST
} from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { everyTenant, type TenantAccess } from "../domain/access.js"
import { describeIssues } from "../domain/schemaIssues.js"
import { recordHttpRequest } from "../infra/metrics.js"
import { traced } from "../infra/Tracing.js"
import type { HttpServerLimits } from "../services/AppConfig.js"
import { Ingest } from "../services/Ingest.js"
import { Messaging } from "../services/Messaging.js"
import { LcgApi } from "./api.js"
import { Authentication, bearerTokenOf, TokenVerification, TokenVerificationLive } from "./auth.js"
import { loadConsoleAssets, serveConsole } from "./console.js"
import { decodeFailureBody, internalErrorBody, MAX_BODY_BYTES, tooLargeBody, unreadableBody } from "./errors.js"
import { hotHandlers } from "./handlers.js"
import { isJsonContentType } from "./inputs.js"
import { pathMatcher } from "./routes.js"

/** An answer, ready to write. */
interface Answer {
  readonly status: number
  readonly body?: unknown
}

type AnyEndpoint = HttpApiEndpoint.HttpApiEndpoint.AnyWithProps

type AnySchema = Schema.Schema.Any

// ---- the routes, read from the HttpApi ----
/** The API's endpoints by name, and every error it declares (the API's, its groups', their endpoints' and middlewares'). */
const endpoints = new Map<string, AnyEndpoint>()
const declaredErrors = new Set<AnySchema>()
HttpApiSchema.deunionize(declaredErrors, LcgApi.errorSchema as unknown as AnySchema)
HttpApiSchema.deunionize(declaredErrors, Authentication.failure as unknown as AnySchema)
HttpApi.reflect(LcgApi, {
  onGroup: ({ group }) => HttpApiSchema.deunionize(declaredErrors, group.errorSchema as unknown as AnySchema),
  onEndpoint: ({ endpoint }) => {
    endpoints.set(endpoint.name, endpoint as unknown as AnyEndpoint)
    HttpApiSchema.deunionize(declaredErrors, endpoint.errorSchema as unknown as AnySchema)
  }
})
const endpoint = (name: string) => endpoints.get(name)!

/**
 * Every error the API declares, by tag: its status and wire encoding. As in HttpApiBuilder,
 * a typed failure is answered by its declared schema whichever endpoint declared it.
 */
const errorEncoders = () => {
  const byTag = new Map<string, (error: unknown) => Answer>()
  for (const schema of declaredErrors) {
    const tag = Option.getOrUndefined(SchemaAST.getIdentifierAnnotation(schema.ast))
    if (tag === undefined) continue
    const status = HttpApiSchema.getStatusError(schema)
    const encode = Schema.encodeUnknownSync(schema as Schema.Schema<unknown, unknown, never>)
    byTag.set(tag, (error) => ({ status, body: encode(error) }))
  }
  return byTag
}

interface Route<R> {
  readonly template: string
  readonly pathParams: (path: string) => Record<string, string> | undefined
  /** Whether the body is handed over as bytes (webhooks, whose signature covers them) or decoded as the payload. */
  readonly raw: boolean
  readonly authenticate: boolean
  // Payload and success are decoded and encoded synchronously (Either): the payload before the fiber starts, with no fiber op.
  // perf: docs/ARCHITECTURE.md#perf-either-decode
  readonly decodePayload: ((input: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined
  readonly handle: (input: {
    readonly path: Record<string, string>
    readonly payload: unknown
    readonly headers: IncomingMessage["headers"]
    readonly body: Uint8Array
    /** The verified token's tenants (every tenant on a route without authentication). */
    readonly access: TenantAccess
  }) => Effect.Effect<unknown, unknown, R>
  readonly successStatus: number
  readonly encodeSuccess: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
}

const route = <R>(
  endpoint: AnyEndpoint,
  options: { readonly authenticate: boolean; readonly raw: boolean; readonly handle: Route<R>["handle"] }
): Route<R> => {
  return {
    template: endpoint.path,
    pathParams: pathMatcher(endpoint.path),
    raw: options.raw,
    authenticate: options.authenticate,
    decodePayload: Option.getOrUndefined(
      Option.map(
        endpoint.payloadSchema,
        (schema) => Schema.decodeUnknownEither(schema as Schema.Schema<unknown, unknown, never>)
      )
    ),
    handle: options.handle,
    successStatus: HttpApiSchema.getStatusSuccess(endpoint.successSchema),
    encodeSuccess: Schema.encodeUnknownEither(endpoint.successSchema as Schema.Schema<unknown, unknown, never>)
  }
}

// ---- the body ----
/** The body as read: its bytes, too large (the rest was drained), or the error that ended the read. */
type Body = Uint8Array | "too-large" | Error

/**
 * Reads the body into one buffer with the request's own events, before any fiber runs: the
 * Effect.async it took cost a fiber suspension per request on the hottest routes
 * (perf: docs/ARCHITECTURE.md#perf-direct-routes).
 */
const readBody = (request: IncomingMessage, done: (body: Body) => void) => {
  const chunks: Array<Buffer> = []
  let size = 0
  request.on("data", (chunk: Buffer) => {
    size += chunk.length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk)
  })
  request.on(
    "end",
    () => done(size > MAX_BODY_BYTES ? "too-large" : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
  )
  request.on("error", done)
}

/** A schema's rejection, as the HttpApi answers it (the payloads' own failures come described: inputs.ts). */
const parseErrorAnswer = (error: ParseResult.ParseError): Answer => ({
  status: 400,
  body: decodeFailureBody(describeIssues(error))
})

/**
 * The body checked, parsed and decoded as the route's payload, before any fiber runs: a 4xx
 * answer, or the payload (perf: docs/ARCHITECTURE.md#perf-either-decode).
 */
const payloadOf = (routeOf: Route<never>, body: Body): { readonly answer: Answer } | { readonly payload: unknown } => {
  if (body instanceof Error) return { answer: { status: 400, body: unreadableBody(body.message) } }
  if (body === "too-large") return { answer: { status: 413, body: tooLargeBody } }
  if (routeOf.raw || routeOf.decodePayload === undefined) return { payload: undefined }
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
  } catch (error) {
    return { answer: { status: 400, body: unreadableBody((error as Error).message) } }
  }
  const decoded = routeOf.decodePayload(json)
  return Either.isLeft(decoded) ? { answer: parseErrorAnswer(decoded.left) } : { payload: decoded.right }
}

// ---- the routes' service ----
export class DirectRoutes extends Context.Tag("hbf-lcg/DirectRoutes")<
  DirectRoutes,
  {
    /** Takes the request and answers it (true), or leaves it to the HttpApi server (false). The operator console's files too (console.ts). */
    readonly serve: (request: IncomingMessage, response: ServerResponse) => boolean
  }
>() {}

// perf: docs/ARCHITECTURE.md#perf-direct-routes
export const DirectRoutesLive = Layer.effect(
  DirectRoutes,
  Effect.gen(function*() {
    const hot = hotHandlers(yield* Messaging, yield* Ingest)
    const consoleFiles = serveConsole(yield* loadConsoleAssets())
    // The verifier the Authentication middleware runs (auth.ts), on the header HttpApiSecurity.bearer reads.
    const verify = yield* TokenVerification
    const errors = errorEncoders()
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const accessLog = LogLevel.greaterThanEqual(
      LogLevel.Info,
      FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentMinimumLogLevel)
    )
    const routes: ReadonlyArray<Route<never>> = [
      route(endpoint("forwardMessage"), {
        authenticate: true,
        raw: false,
        handle: ({ access, payload }) => hot.forwardMessage(payload as never, access)
      }),
      route(endpoint("userTyping"), {
        authenticate: true,
        raw: false,
        handle: ({ access, payload }) => hot.userTyping(payload as never, access)
      }),
      route(endpoint("userRead"), {
        authenticate: true,
        raw: false,
        handle: ({ access, payload }) => hot.userRead(payload as never, access)
      }),
      route(endpoint("providerEvents"), {
        authenticate: false,
        raw: true,
        handle: ({ body, headers, path }) =>
          hot.providerEvents(path["alias"]!, headers as Record<string, string | undefined>, body)
      })
    ]

    const failureAnswer = (cause: Cause.Cause<unknown>): Effect.Effect<Answer> => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) {
        const error = failure.value
        if (ParseResult.isParseError(error)) return Effect.succeed(parseErrorAnswer(error))
        const tag = (error as { _tag?: string })._tag
        const encode = tag !== undefined ? errors.get(tag) : undefined
        if (encode !== undefined) return Effect.succeed(encode(error))
      }
      return Effect.as(Effect.logError("unhandled error", cause), { status: 500, body: internalErrorBody })
    }

    /** The handler's answer to a request whose body was read and decoded. */
    const handled = (
      routeOf: Route<never>,
      path: Record<string, string>,
      headers: IncomingMessage["headers"],
      body: Body,
      access: TenantAccess
    ): Effect.Effect<Answer, unknown> => {
      const prepared = payloadOf(routeOf, body)
      if ("answer" in prepared) return Effect.succeed(prepared.answer)
      return Effect.flatMap(
        routeOf.handle({ path, payload: prepared.payload, headers, body: body as Uint8Array, access }),
        (value) =>
          Either.map(
            routeOf.encodeSuccess(value),
            (encoded): Answer => ({ status: routeOf.successStatus, body: encoded })
          )
      )
    }

    /** The body, read within the fiber: for a request whose token is verified first. */
    const bodyOf = (request: IncomingMessage) =>
      Effect.async<Body>((resume) => readBody(request, (body) => resume(Effect.succeed(body))))

    const write = (response: ServerResponse, { body, status }: Answer) => {
      if (body === undefined) return response.writeHead(status, { "content-length": 0 }).end()
      const text = JSON.stringify(body)
      response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(
        text
      )
    }

    /**
     * Takes a request of one of the routes: authenticated before its body is read, so a
     * caller without a valid token is answered 401 at once, whatever it still sends. A token
     * verified earlier is checked without a fiber op, and the body read before the fiber starts.
     */
    const serve = (request: IncomingMessage, response: ServerResponse): boolean => {
      if (request.method !== "POST") return consoleFiles(request, response)
      const url = request.url ?? "/"
      const query = url.indexOf("?")
      const path = query === -1 ? url : url.slice(0, query)
      for (const routeOf of routes) {
        const params = routeOf.pathParams(path)
        if (params === undefined) continue
        if (!routeOf.raw && !isJsonContentType(request.headers["content-type"])) return false
        if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) {
          request.resume()
          write(response, { status: 413, body: tooLargeBody })
          return true
        }
        const started = performance.now()
        const finish = (answered: Answer) => {
          // Answered before the body was read (a refused token): keeping the connection would mean reading what was refused.
          if (!request.complete) response.setHeader("connection", "close")
          write(response, answered)
          recordHttpRequest(routeOf.template, "POST", answered.status, (performance.now() - started) / 1000)
          // The access line, as the HttpApi server's logger writes it.
          if (accessLog) {
            runFork(
              Effect.annotateLogs(Effect.log("Sent HTTP response"), {
                "http.method": "POST",
                "http.url": url,
                "http.status": answered.status
              })
            )
          }
        }
        const run = (program: Effect.Effect<Answer, unknown>) =>
          runFork(
            Effect.catchAllCause(program, failureAnswer).pipe(
              traced("http.server POST", () => ({
                kind: "server",
                captureStackTrace: false,
                parent: Option.getOrUndefined(HttpTraceContext.fromHeaders(request.headers as never)),
                attributes: { "http.request.method": "POST", "url.path": path, "http.route": routeOf.template }
              }))
            )
          ).addObserver((exit) => finish(Exit.isSuccess(exit) ? exit.value : { status: 500, body: internalErrorBody }))
        const token = routeOf.authenticate ? bearerTokenOf(request.headers.authorization) : ""
        // perf: docs/ARCHITECTURE.md#perf-token-memo
        const known = routeOf.authenticate ? verify.remembered(token) : undefined
        if (!routeOf.authenticate || known !== undefined) {
          // Suspended: a handler that throws is a defect answered 500, not a crash of the callback.
          readBody(
            request,
            (body) =>
              run(Effect.suspend(() => handled(routeOf, params, request.headers, body, known?.tenants ?? everyTenant)))
          )
        } else {
          run(
            Effect.flatMap(
              verify(Redacted.make(token)),
              (caller) =>
                Effect.flatMap(
                  bodyOf(request),
                  (body) => handled(routeOf, params, request.headers, body, caller.tenants)
                )
            )
          )
        }
        return true
      }
      return false
    }
    return { serve }
  })
)

// ---- the server ----
/**
 * How often node:http looks for requests past their timeouts (its default, 30 s, would let a
 * client overstay a 10 s headers timeout by that much).
 */
const timeoutCheckInterval = (limits: HttpServerLimits) =>
  Math.max(10, Math.min(1000, Duration.toMillis(limits.headersTimeout) / 4))

/**
 * node:http on `port`, with `limits` on slow and idle clients: the direct routes first, the
 * HttpApi's server (what `serve` is given) for the rest
 * (perf: docs/ARCHITECTURE.md#perf-direct-routes). Mirrors NodeHttpServer.layer (which has no
 * hook for a request it should not take).
 */
export const NodeServerWithDirectRoutes = (port: number, limits: HttpServerLimits) =>
  Layer.scoped(
    HttpServer.HttpServer,
    Effect.gen(function*() {
      const direct = yield* DirectRoutes
      const make = () => {
        const server = createServer({
          headersTimeout: Duration.toMillis(limits.headersTimeout),
          requestTimeout: Duration.toMillis(limits.requestTimeout),
          keepAliveTimeout: Duration.toMillis(limits.keepAliveTimeout),
          connectionsCheckingInterval: timeoutCheckInterval(limits)
        })
        server.maxConnections = limits.maxConnections
        return server
      }
      const server = yield* Effect.acquireRelease(Effect.sync(make), (server) =>
        Effect.async<void>((resume) => {
          if (!server.listening) return resume(Effect.void)
          server.close(() => resume(Effect.void))
        }))
      yield* Effect.async<void, HttpServerError.ServeError>((resume) => {
        const onError = (cause: Error) => resume(Effect.fail(new HttpServerError.ServeError({ cause })))
        server.once("error", onError)
        server.listen(port, () => {
          server.off("error", onError)
          resume(Effect.void)
        })
      })
      const address = server.address() as AddressInfo
      return HttpServer.make({
        address: {
          _tag: "TcpAddress",
          hostname: address.address === "::" ? "0.0.0.0" : address.address,
          port: address.port
        },
        serve: (app, middleware) =>
          Effect.gen(function*() {
            const platform = yield* NodeHttpServer.makeHandler(app, middleware as never)
            const handler = (request: IncomingMessage, response: ServerResponse) => {
              if (!direct.serve(request, response)) platform(request, response)
            }
            yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", handler)))
            server.on("request", handler)
          })
      })
    })
  ).pipe(
    Layer.provide(DirectRoutesLive.pipe(Layer.provide(TokenVerificationLive))),
    Layer.merge(NodeHttpServer.layerContext)
  )
