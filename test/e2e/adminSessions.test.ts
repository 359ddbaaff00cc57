/**
 * `GET /admin/sessions`: a tenant's open sessions by status, oldest first, paged by an opaque
 * cursor that neither skips nor repeats a session ending between pages; admin scope only; a
 * bad status, limit or cursor is a 400 naming the field.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../eventually.js"
import { livechatRequest, startGateway, stores } from "./harness.js"

describe("GET /admin/sessions", () => {
  for (const store of stores) {
    it.live(
      `${store}: pages a tenant's open sessions by status; 403 without admin scope; 400 for what it does not take`,
      () =>
        Effect.gen(function*() {
          const gw = yield* startGateway({ store })
          const admin = { authorization: `Bearer ${yield* gw.token({ scope: "admin" })}` }
          const list = (query: string) => gw.call("GET", `/admin/sessions?${query}`, undefined, admin)
          const ids: Array<string> = []
          for (const name of ["ann", "bob", "cem", "dan", "eve"]) {
            ids.push((yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", name))).body.sessionId)
            // Apart in time: creation order is the order asked for.
            yield* Effect.sleep("5 millis")
          }
          yield* gw.call("POST", "/requests", livechatRequest("demo-zendesk", "zoe"))
          // An agent takes cem's request: active.
          yield* gw.lcm.join(ids[2]!)
          yield* eventually(
            "cem's session is active",
            Effect.map(gw.call("GET", `/admin/sessions/${ids[2]}`, undefined, admin), (answer) => answer.body.status),
            (status) => status === "active"
          )

          const first = yield* list("tenantId=demo-helvia&limit=2")
          expect(first.status).toBe(200)
          expect(first.body.sessions.map((s: any) => s.sessionId)).toEqual(ids.slice(0, 2))
          expect(first.body.sessions[0]).toMatchObject({ tenantId: "demo-helvia", subHandle: "ann", status: "pending" })
          expect(first.body.sessions[0].providerState).toBeUndefined()
          expect(first.body.next).toEqual(expect.any(String))
          // The last session of the page ends before the next page is read.
          expect((yield* gw.call("DELETE", "/sessions/tenants/demo-helvia/subscribers/bob")).status).toBe(204)
          const second = yield* list(`tenantId=demo-helvia&limit=2&cursor=${first.body.next}`)
          expect(second.body.sessions.map((s: any) => [s.sessionId, s.status])).toEqual([
            [ids[2], "active"],
            [ids[3], "pending"]
          ])
          const third = yield* list(`tenantId=demo-helvia&limit=2&cursor=${second.body.next}`)
          expect(third.body).toEqual({ sessions: [expect.objectContaining({ sessionId: ids[4] })] })

          const pending = yield* list("tenantId=demo-helvia&status=pending")
          expect(pending.body.sessions.map((s: any) => s.subHandle)).toEqual(["ann", "dan", "eve"])
          expect(pending.body.next).toBeUndefined()
          const active = yield* list("tenantId=demo-helvia&status=active")
          expect(active.body.sessions.map((s: any) => s.subHandle)).toEqual(["cem"])
          expect((yield* list("tenantId=nobody")).body).toEqual({ sessions: [] })

          // hbf-bot's token: authenticated, not allowed.
          const ordinary = yield* gw.call("GET", "/admin/sessions?tenantId=demo-helvia")
          expect(ordinary.status).toBe(403)
          expect(ordinary.body.error).toBe("Forbidden")

          for (
            const [query, field, message] of [
              ["status=open", "tenantId", "is missing"],
              ["tenantId=demo-helvia&status=ended", "status", "pending"],
              ["tenantId=demo-helvia&limit=0", "limit", "limit must be between 1 and 200"],
              ["tenantId=demo-helvia&limit=201", "limit", "limit must be between 1 and 200"],
              ["tenantId=demo-helvia&limit=2.5", "limit", "limit must be a whole number"],
              ["tenantId=demo-helvia&cursor=nonsense", "cursor", "cursor must be the `next` of a page before"],
              [`tenantId=demo-helvia&cursor=${Buffer.from("12:x").toString("base64url")}x`, "cursor", "cursor must be"]
            ] as const
          ) {
            const bad = yield* list(query)
            expect(bad.status, query).toBe(400)
            expect(bad.body.error, query).toBe("BadRequest")
            expect(bad.body.fields, query).toEqual([{ path: field, message: expect.stringContaining(message) }])
          }
        }).pipe(Effect.scoped),
      30_000
    )
  }
})
