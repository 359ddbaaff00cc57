/**
 * The served /openapi.json is a valid OpenAPI 3.1 document that says what the server does
 * (every answer of the e2e suites is checked against it: openApiConformance.ts), and that
 * check fails on an answer the document does not declare.
 */
import { describe, expect, it } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { startGateway } from "./harness.js"
import { conformanceTo } from "./openApiConformance.js"

const served = Effect.gen(function*() {
  const gw = yield* startGateway()
  return { gw, document: (yield* gw.call("GET", "/openapi.json")).body }
})

const operationsOf = (document: any): Array<[string, any]> =>
  Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, operations]) =>
    Object.entries(operations).map((
      [method, operation]
    ): [string, any] => [`${method.toUpperCase()} ${path}`, operation])
  )

describe("GET /openapi.json", () => {
  it.scoped("is a valid OpenAPI 3.1 document of the package's version", () =>
    Effect.gen(function*() {
      const { document } = yield* served
      const result = yield* Effect.promise(() => new Validator().validate(document))
      expect(result.errors ?? []).toEqual([])
      expect(result.valid).toBe(true)
      expect(document.openapi).toBe("3.1.0")
      expect(document.info.version).toBe(JSON.parse(readFileSync("package.json", "utf8")).version)
    }))

  it.scoped("summarizes every operation and declares 400, 413 and 415 where they are answered", () =>
    Effect.gen(function*() {
      const { document } = yield* served
      const operations = operationsOf(document)
      expect(operations.length).toBe(24)
      for (const [name, operation] of operations) {
        expect(operation.summary, name).toEqual(expect.any(String))
        // A 400 where there is something to decode, with the body the server answers.
        const decodes = operation.parameters.length > 0 || operation.requestBody !== undefined
        expect(JSON.stringify(operation.responses["400"] ?? "none"), name).toMatch(decodes ? /BadRequest/ : /^"none"$/)
        expect(JSON.stringify(operation.responses["400"] ?? "none"), name).not.toContain("HttpApiDecodeError")
        for (const parameter of operation.parameters) {
          expect(parameter.schema.title ?? "", `${name} ${parameter.name}`).not.toMatch(/maxLength/)
          expect(parameter.description, `${name} ${parameter.name}`).toEqual(expect.any(String))
        }
        if (operation.requestBody !== undefined) {
          expect(Object.keys(operation.responses), name).toEqual(expect.arrayContaining(["413", "415"]))
          // Unknown fields of a body are ignored, not refused.
          expect(JSON.stringify(operation.requestBody), name).not.toContain(`"additionalProperties":false`)
        }
      }
      expect(document.components.schemas.HttpApiDecodeError).toBeUndefined()
      expect(Object.keys(document.components.responses)).toEqual(["NotFound", "MethodNotAllowed"])
    }))

  it.scoped("fails an answer it does not declare, naming the operation", () =>
    Effect.gen(function*() {
      const { document, gw } = yield* served
      const problemsOf = conformanceTo(document)
      const answer = (method: string, path: string, status: number, headers: Record<string, string>, body?: unknown) =>
        problemsOf({
          method,
          url: `${gw.url}${path}`,
          status,
          headers: new Headers(body === undefined ? headers : { "content-type": "application/json", ...headers }),
          text: body === undefined ? "" : JSON.stringify(body)
        })

      expect(answer("HEAD", "/organizations/o/requests", 200, { "x-total-count": "3" })).toEqual([])
      expect(answer("HEAD", "/organizations/o/requests", 204, { "x-total-count": "3" })).toEqual([
        expect.stringMatching(/^HEAD \/organizations\/o\/requests \(upstream\.countRequests\): 204 is not declared/)
      ])
      expect(answer("HEAD", "/organizations/o/requests", 200, {})[0]).toMatch(/countRequests.*x-total-count/)
      expect(answer("HEAD", "/organizations/o/requests", 200, { "x-total-count": "3", "x-other": "1" })[0])
        .toMatch(/countRequests.*header x-other is not declared/)

      const decodeError = { _tag: "HttpApiDecodeError", issues: [], message: "bad" }
      expect(answer("POST", "/requests", 400, {}, decodeError)[0]).toMatch(
        /^POST \/requests \(upstream\.createRequest\) 400: body/
      )
      expect(answer("POST", "/requests", 400, {}, { error: "BadRequest", message: "bad", fields: [] })).toEqual([])

      expect(answer("GET", "/messages", 405, { allow: "POST" }, { error: "MethodNotAllowed", message: "no" })).toEqual(
        []
      )
      expect(answer("GET", "/messages", 405, { allow: "POST, PUT" }, { error: "MethodNotAllowed", message: "no" })[0])
        .toMatch(/MethodNotAllowed.*Allow/)
      expect(answer("GET", "/nowhere", 200, {}, {})[0]).toMatch(/no operation/)
    }))
})
