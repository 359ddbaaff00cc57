/**
 * The typed client (src/client/LcgClient.ts) against a real gateway: a whole livechat through
 * it, with Promises and with Effect, its answers typed from the API, its errors the API's own.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createLcgClient, LcgClient } from "../../src/client/LcgClient.js"
import type { CreateRequest } from "../../src/domain/model.js"
import { eventsReach, livechatRequest, startGateway } from "./harness.js"

const tenantId = "demo-helvia"
const request = (subHandle: string): CreateRequest => livechatRequest(tenantId, subHandle) as CreateRequest

describe("the typed client", () => {
  it.live(
    "with Promises: open a livechat, forward a message and typing, read the state, end it; errors are the API's",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({})
        const client = createLcgClient({ baseUrl: gw.url, token: yield* gw.token() })
        yield* Effect.addFinalizer(() => Effect.promise(() => client.dispose()))
        const session = yield* Effect.promise(() => client.createRequest({ payload: request("ada") }))
        expect(session).toMatchObject({ tenantId, subHandle: "ada", status: "pending", provider: "helvia-livechat" })
        yield* gw.lcm.join(session.sessionId, { fullName: "Maria" })
        yield* eventsReach(gw, session.sessionId, 1)
        const sent = yield* Effect.promise(() =>
          client.forwardMessage({ payload: { tenantId, subHandle: "ada", messageId: "m-1", text: "hello" } })
        )
        expect(sent).toMatchObject({ messageId: "m-1", sessionId: session.sessionId })
        expect(gw.lcm.messages(session.sessionId).map((m) => m.text)).toEqual(["hello"])
        const typing = yield* Effect.promise(() => client.userTyping({ payload: { tenantId, subHandle: "ada" } }))
        // hbf-lcm has no way to show the agent that the user types: answered, not forwarded.
        expect(typing).toEqual({ sessionId: session.sessionId, forwarded: false })
        const state = yield* Effect.promise(() =>
          client.livechatState({ path: { subHandle: "ada" }, urlParams: { tenantId } })
        )
        expect(state).toMatchObject({ state: "active", session: { agent: { name: "Maria" } } })
        yield* Effect.promise(() => client.terminateSession({ path: { tenantId, subHandle: "ada" } }))

        // A failed call rejects with the API's error, its tag and fields typed.
        const failure = yield* Effect.promise(() =>
          client.forwardMessage({ payload: { tenantId, subHandle: "ada", messageId: "m-2", text: "bye" } }).then(
            () => undefined,
            (e: unknown) => e
          )
        )
        expect(failure).toMatchObject({ _tag: "SessionEnded", sessionId: session.sessionId })
        const nobody = yield* Effect.promise(() =>
          client.livechatState({ path: { subHandle: "nobody" }, urlParams: { tenantId } })
        )
        expect(nobody).toEqual({ subHandle: "nobody", state: "none" })
        const missing = yield* Effect.promise(() =>
          client.terminateSession({ path: { tenantId, subHandle: "nobody" } }).then(
            () => undefined,
            (e: unknown) => e
          )
        )
        expect(missing).toMatchObject({ _tag: "SessionNotFound" })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "subscriber handles with /, ?, # and % reach their own session; the HEAD routes answer their headers",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({})
        const client = createLcgClient({ baseUrl: gw.url, token: yield* gw.token() })
        yield* Effect.addFinalizer(() => Effect.promise(() => client.dispose()))
        for (const subHandle of ["a/b", "x?tenantId=other#z", "50% off", "../admin"]) {
          const session = yield* Effect.promise(() => client.createRequest({ payload: request(subHandle) }))
          expect(session.subHandle).toBe(subHandle)
          const state = yield* Effect.promise(() =>
            client.livechatState({ path: { subHandle }, urlParams: { tenantId } })
          )
          expect(state).toMatchObject({ subHandle, state: "pending", session: { sessionId: session.sessionId } })
          yield* Effect.promise(() => client.terminateSession({ path: { tenantId, subHandle } }))
        }
        const counted = yield* Effect.promise(() =>
          client.countRequests({ path: { organizationId: "demo-org" }, urlParams: { status: "ended" } })
        )
        expect(counted).toEqual({ totalCount: 4 })
        const metrics = yield* Effect.promise(() =>
          client.waitingMetrics({ path: { organizationId: "demo-org", tenantId }, urlParams: {} })
        )
        expect(metrics).toEqual({ averageWaitingSeconds: 0, waitingCount: 0 })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("from Effect: the same calls as a service, its errors in the error channel", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({})
      const token = yield* gw.token()
      const program = Effect.gen(function*() {
        const client = yield* LcgClient
        const session = yield* client.createRequest({ payload: request("bea") })
        const again = yield* Effect.flip(
          client.forwardMessage({ payload: { tenantId, subHandle: "nobody", messageId: "m-1", text: "hi" } })
        )
        return { session, again }
      }).pipe(Effect.provide(LcgClient.layer({ baseUrl: gw.url, token })), Effect.provide(FetchHttpClient.layer))
      const { again, session } = yield* program
      expect(session.subHandle).toBe("bea")
      expect(again).toMatchObject({ _tag: "SessionNotFound" })
    }).pipe(Effect.scoped), 30_000)
})
