/**
 * The operator console's files (src/http/console.ts): served at /admin/console with their media
 * types, no caching and a strict content security policy, to anyone (they hold nothing); only
 * its three files, whatever the path says (no way out of the folder), and 405 for other methods.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { request } from "node:http"
import { startGateway } from "./harness.js"

interface RawAnswer {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: string
}

/** A request with the path exactly as given: fetch would resolve `..` and dot segments before sending. */
const raw = (base: string, method: string, path: string) =>
  Effect.async<RawAnswer, Error>((resume) => {
    const { hostname, port } = new URL(base)
    const asked = request({ hostname, port, method, path }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(Effect.succeed({
          status: response.statusCode!,
          headers: response.headers,
          body: Buffer.concat(chunks).toString("utf8")
        })))
    })
    asked.on("error", (error) => resume(Effect.fail(error)))
    asked.end()
  })

const csp =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

describe("operator console files", () => {
  it.live("each file with its media type, no-cache, the content security policy and nosniff, without a token", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const files = [
        ["/admin/console", "text/html; charset=utf-8", "index.html"],
        ["/admin/console/", "text/html; charset=utf-8", "index.html"],
        ["/admin/console/index.html", "text/html; charset=utf-8", "index.html"],
        ["/admin/console/console.js", "text/javascript; charset=utf-8", "console.js"],
        ["/admin/console/lanes.js", "text/javascript; charset=utf-8", "lanes.js"],
        ["/admin/console/console.css", "text/css; charset=utf-8", "console.css"]
      ] as const
      for (const [path, contentType, file] of files) {
        const answer = yield* raw(gw.url, "GET", path)
        expect([path, answer.status, answer.headers["content-type"]]).toEqual([path, 200, contentType])
        expect(answer.headers["content-security-policy"]).toBe(csp)
        expect(answer.headers["x-content-type-options"]).toBe("nosniff")
        expect(answer.headers["cache-control"]).toBe("no-cache")
        expect(answer.body).toBe(readFileSync(`console/${file}`, "utf8"))
      }
      // The page loads its script and style from the gateway itself (the policy allows nothing else).
      const page = (yield* raw(gw.url, "GET", "/admin/console")).body
      expect(page).toContain(`<script type="module" src="/admin/console/console.js"></script>`)
      expect(page).toContain(`<link rel="stylesheet" href="/admin/console/console.css">`)
      expect(page).not.toMatch(/<script>|<style|style=|https?:\/\//)
      const head = yield* raw(gw.url, "HEAD", "/admin/console/console.js")
      expect([head.status, head.headers["content-type"], head.body]).toEqual([
        200,
        "text/javascript; charset=utf-8",
        ""
      ])
      expect(Number(head.headers["content-length"])).toBe(readFileSync("console/console.js").length)
    }).pipe(Effect.scoped))

  it.live("no other file: unknown names, `..` and its encodings, nested paths are 404 and serve nothing", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const packageJson = readFileSync("package.json", "utf8")
      const paths = [
        "/admin/console/nope.js",
        "/admin/console/../package.json",
        "/admin/console/../../package.json",
        "/admin/console/..%2fpackage.json",
        "/admin/console/..%2Fpackage.json",
        "/admin/console/%2e%2e/package.json",
        "/admin/console/%2e%2e%2fpackage.json",
        "/admin/console/..%5cpackage.json",
        "/admin/console/%252e%252e%252fpackage.json",
        "/admin/console/..\\package.json",
        "/admin/console/./console.js/../../../package.json",
        "/admin/console/console.js/",
        "/admin/console/console.js%00.html",
        "/admin/console/.env",
        "/admin/console/index.html.bak",
        "/admin/console/%2fetc%2fpasswd"
      ]
      for (const path of paths) {
        const answer = yield* raw(gw.url, "GET", path)
        expect([path, answer.status]).toEqual([path, 404])
        expect(answer.headers["content-type"]).toBe("application/json")
        expect(JSON.parse(answer.body)).toMatchObject({ error: "NotFound" })
        expect(answer.body).not.toContain(packageJson.slice(0, 40))
      }
      // Outside the console's prefix the gateway's own 404 answers, not a file.
      const beside = yield* raw(gw.url, "GET", "/admin/consolex")
      expect(beside.status).toBe(404)
      const head = yield* raw(gw.url, "HEAD", "/admin/console/nope.js")
      expect([head.status, head.headers["x-error"], head.body]).toEqual([404, "NotFound", ""])
    }).pipe(Effect.scoped))

  it.live("another method than GET or HEAD: 405 with Allow", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      for (const path of ["/admin/console", "/admin/console/console.js"]) {
        for (const method of ["POST", "PUT", "DELETE"]) {
          const answer = yield* gw.call(method, path)
          expect([method, path, answer.status, answer.headers.get("allow")]).toEqual([method, path, 405, "GET, HEAD"])
        }
      }
    }).pipe(Effect.scoped))
})
