/** Route handlers: thin translations from HTTP to the gateway's use cases. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import type { TenantAccess } from "../domain/access.js"
import type { SessionRecord } from "../domain/model.js"
import type { ForwardMessage, UserRead, UserTyping } from "../domain/model.js"
import { issuesInline } from "../domain/schemaIssues.js"
import { Coordinator } from "../services/Coordinator.js"
import { MalformedWebhook, SessionNotFound } from "../services/errors.js"
import { Ingest, type IngestService } from "../services/Ingest.js"
import { Lifecycle } from "../services/Lifecycle.js"
import { LivechatRequests } from "../services/LivechatRequests.js"
import { Messaging, type MessagingService } from "../services/Messaging.js"
import { MetricsExport } from "../services/MetricsExport.js"
import { Outbox } from "../services/Outbox.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { Queries } from "../services/Queries.js"
import { SessionStore } from "../services/SessionStore.js"
import { Timeline } from "../services/Timeline.js"
import { LcgApi, openSessionsPageSize } from "./api.js"
import { AdminAuthenticationLive, AuthenticationLive, Caller } from "./auth.js"
import { tooDeepJson, tooDeepMessage } from "./inputs.js"

const DEFAULT_WINDOW_SECONDS = 24 * 60 * 60

const headersOnly = (headers: Record<string, string>) => HttpServerResponse.empty({ status: 200, headers })

/** The hot routes' handlers, run by the HttpApi server and by the direct routes (directRoutes.ts) alike. */
export const hotHandlers = (messaging: MessagingService, ingest: IngestService) => ({
  forwardMessage: (payload: ForwardMessage, access: TenantAccess) => messaging.forwardMessage(payload, access),
  userTyping: (payload: UserTyping, access: TenantAccess) => messaging.userTyping(payload, access),
  userRead: (payload: UserRead, access: TenantAccess) => messaging.userRead(payload, access),
  /**
   * The raw bytes, exactly as signed: nothing is decoded before the signature check. JSON
   * nested too deep is refused first, signed or not: what reads a sender before its
   * signature is checked (the session it names) parses it.
   */
  providerEvents: (alias: string, headers: Readonly<Record<string, string | undefined>>, body: Uint8Array) => {
    const tooDeep = tooDeepJson(body)
    if (tooDeep !== undefined) {
      return Effect.fail(new MalformedWebhook({ message: issuesInline([{ path: tooDeep, message: tooDeepMessage }]) }))
    }
    return Effect.map(ingest.ingestWebhook(alias, { headers, body }), ({ accepted }) => ({ accepted }))
  }
})

export const UpstreamLive = HttpApiBuilder.group(LcgApi, "upstream", (handlers) =>
  Effect.gen(function*() {
    const requests = yield* LivechatRequests
    const queries = yield* Queries
    const hot = hotHandlers(yield* Messaging, yield* Ingest)
    /** The tenants the verified token (Authentication) may act in. */
    const access = Effect.map(Caller, (caller) => caller.tenants)
    return handlers
      .handle("createRequest", ({ payload }) =>
        Effect.flatMap(access, (tenants) =>
          Effect.map(requests.create(payload, tenants), ({ created, session }) =>
            // 201 for a new session (the endpoint's declared success); 200 for the one already open.
            created ? session : HttpServerResponse.unsafeJson(session, { status: 200 }))))
      .handle("updateRequest", ({ path, payload, urlParams }) =>
        Effect.flatMap(access, (tenants) =>
          requests.update(path.subHandle, payload, tenants, urlParams.tenantId)))
      .handle("terminateSession", ({ path }) =>
        Effect.flatMap(access, (tenants) =>
          requests.terminate(path.tenantId, path.subHandle, tenants)))
      .handle("forwardMessage", ({ payload }) =>
        Effect.flatMap(access, (tenants) =>
          hot.forwardMessage(payload, tenants)))
      .handle("userTyping", ({ payload }) =>
        Effect.flatMap(access, (tenants) =>
          hot.userTyping(payload, tenants)))
      .handle("userRead", ({ payload }) =>
        Effect.flatMap(access, (tenants) =>
          hot.userRead(payload, tenants)))
      .handle("countRequests", ({ path, urlParams }) =>
        Effect.flatMap(access, (tenants) =>
          Effect.map(queries.count(path.organizationId, urlParams.status ?? "open", tenants), (n) =>
            headersOnly({ "x-total-count": String(n) }))))
      .handle("waitingMetrics", ({ path, urlParams }) =>
        Effect.flatMap(access, (tenants) =>
          Effect.map(
            queries.waitingMetrics(path.tenantId, urlParams.windowSeconds ?? DEFAULT_WINDOW_SECONDS, tenants),
            (m) =>
              headersOnly({
                "x-average-waiting-time": String(m.averageWaitingSeconds),
                "x-waiting-count": String(m.waitingCount)
              })
          )))
      .handle("livechatState", ({ path, urlParams }) =>
        Effect.flatMap(access, (tenants) =>
          queries.state(path.subHandle, tenants, urlParams.tenantId)))
      .handle("availability", ({ path }) =>
        Effect.flatMap(access, (tenants) =>
          queries.availability(path.tenantId, tenants)))
      .handle("capabilities", ({ path }) =>
        Effect.flatMap(access, (tenants) =>
          queries.capabilities(path.tenantId, tenants)))
  })).pipe(Layer.provide(AuthenticationLive))

export const DownstreamLive = HttpApiBuilder.group(LcgApi, "downstream", (handlers) =>
  Effect.gen(function*() {
    const hot = hotHandlers(yield* Messaging, yield* Ingest)
    const registry = yield* ProviderRegistry
    return handlers
      .handleRaw("providerEvents", ({ path, request }) =>
        Effect.gen(function*() {
          const body = new Uint8Array(yield* Effect.orDie(request.arrayBuffer))
          return HttpServerResponse.unsafeJson(yield* hot.providerEvents(path.alias, request.headers, body), {
            status: 200
          })
        }))
      .handle("providerHealth", ({ path }) => Effect.as(registry.get(path.alias), headersOnly({})))
  }))

export const OpsLive = HttpApiBuilder.group(LcgApi, "ops", (handlers) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const metrics = yield* MetricsExport
    const lifecycle = yield* Lifecycle
    return handlers
      .handle("live", () => Effect.succeed({ status: "ok" as const, checks: { process: true } }))
      .handle("ready", () =>
        Effect.gen(function*() {
          // Draining (shutting down): a load balancer stops sending requests; those that still come are served.
          const accepting = !(yield* lifecycle.draining)
          const storeOk = yield* store.ping
          const ready = accepting && storeOk
          const health = {
            status: ready ? ("ok" as const) : ("unavailable" as const),
            checks: { store: storeOk, accepting }
          }
          return ready ? health : yield* Effect.fail(health)
        }))
      .handle("metrics", () => metrics.prometheusText)
  }))

export const AdminLive = HttpApiBuilder.group(LcgApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const coordinator = yield* Coordinator
    const outbox = yield* Outbox
    const store = yield* SessionStore
    const timeline = yield* Timeline
    const adminSession = ({ providerState: _hidden, ...session }: SessionRecord) => session
    const found = (notFound: string) => (record: Option.Option<SessionRecord>) =>
      Option.match(record, {
        onNone: () => Effect.fail(new SessionNotFound({ message: notFound })),
        onSome: (session) => Effect.succeed(adminSession(session))
      })
    /** A session's timeline; a session that is neither kept nor has entries is not found. */
    const timelineOf = (sessionId: string, known: (record: Option.Option<SessionRecord>) => boolean) =>
      Effect.gen(function*() {
        const [record, entries] = yield* Effect.all([store.get(sessionId), timeline.read(sessionId)], {
          concurrency: 2
        })
        if (!known(record) && entries.length === 0) {
          return yield* new SessionNotFound({ message: `session ${sessionId} does not exist` })
        }
        return { sessionId, entries }
      })
    return handlers
      .handle("cluster", () => coordinator.status)
      .handle("sessionById", ({ path }) =>
        Effect.flatMap(store.get(path.sessionId), found(`session ${path.sessionId} does not exist`)))
      .handle("subscriberSession", ({ path, urlParams }) =>
        Effect.flatMap(
          store.latestBySubscriber(path.subHandle, urlParams.tenantId),
          found(`subscriber ${path.subHandle} has no session`)
        ))
      .handle("sessionTimeline", ({ path }) =>
        timelineOf(path.sessionId, Option.isSome))
      .handle("subscriberTimeline", ({ path, urlParams }) =>
        Effect.flatMap(store.latestBySubscriber(path.subHandle, urlParams.tenantId), (latest) =>
          Option.match(latest, {
            onNone: () =>
              Effect.fail(new SessionNotFound({ message: `subscriber ${path.subHandle} has no session` })),
            onSome: (session) =>
              timelineOf(session.sessionId, () => true)
          })))
      .handle("openSessions", ({ urlParams }) =>
        Effect.map(
          store.openSessionsOfTenant(
            urlParams.tenantId,
            urlParams.status ?? "open",
            urlParams.cursor,
            openSessionsPageSize(urlParams.limit)
          ),
          ({ next, sessions }) => ({ sessions: sessions.map(adminSession), ...(next !== undefined ? { next } : {}) })
        ))
      .handle("deadLetters", () =>
        outbox.deadLetters)
      .handle("replayDeadLetter", ({ path }) =>
        Effect.tap(outbox.replay(path.id), ({ event, target }) =>
          timeline.record(event.sessionId, { kind: "replayed", eventId: event.id, target })))
  })).pipe(Layer.provide(AdminAuthenticationLive))
