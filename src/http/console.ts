/**
 * The operator console (README.md#operator-console): the static files of console/ at the
 * repository's top (beside dist/ in the image), read once at start and served at
 * `/admin/console`. The page holds nothing: every call it makes is an admin API call with the
 * token the operator pastes, so the files themselves are public.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import type { IncomingMessage, ServerResponse } from "node:http"
import { recordHttpRequest } from "../infra/metrics.js"
import { errorBody, errorHeaders } from "./errors.js"

export const CONSOLE_PATH = "/admin/console"
export const CONSOLE_ASSET_PATH = `${CONSOLE_PATH}/:asset`

/** The console's files and their media types: nothing else is ever served (no path is resolved from the URL). */
const mediaTypes: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "console.js": "text/javascript; charset=utf-8",
  "lanes.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8"
}

/** Scripts, styles and calls from the gateway itself only; no inline code, no frames, no forms. */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache"
}

interface Asset {
  readonly contentType: string
  readonly body: Buffer
}

/** The files by name, empty when the folder is missing (a build without it): the console then answers 404. */
export type ConsoleAssets = ReadonlyMap<string, Asset>

/** src/http and dist/http are both two levels under the folder that holds console/. */
const consoleFolder = new URL("../../console/", import.meta.url)

export const loadConsoleAssets = (folder: URL = consoleFolder): Effect.Effect<ConsoleAssets> =>
  Effect.suspend(() => {
    try {
      const assets = new Map<string, Asset>()
      for (const [name, contentType] of Object.entries(mediaTypes)) {
        assets.set(name, { contentType, body: readFileSync(new URL(name, folder)) })
      }
      return Effect.succeed(assets)
    } catch (error) {
      return Effect.as(
        Effect.logWarning(`operator console not served: ${(error as Error).message}`),
        new Map<string, Asset>()
      )
    }
  })

/**
 * Answers GET and HEAD of `/admin/console` and `/admin/console/<file>` (true); other methods go
 * on to the HttpApi server, which answers 405 from the route table (routes.ts). As the router
 * reads paths: case-insensitive, a doubled or trailing slash ignored.
 */
export const serveConsole =
  (assets: ConsoleAssets) => (request: IncomingMessage, response: ServerResponse): boolean => {
    const method = request.method
    if (method !== "GET" && method !== "HEAD") return false
    const url = request.url ?? "/"
    const query = url.indexOf("?")
    const path = (query === -1 ? url : url.slice(0, query)).toLowerCase().replace(/\/{2,}/g, "/")
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return false
    const started = performance.now()
    const name = path.slice(CONSOLE_PATH.length + 1)
    const asset = assets.get(name === "" ? "index.html" : name)
    let status: number
    if (asset === undefined) {
      status = 404
      const body = errorBody("NotFound", `no console file ${JSON.stringify(name.slice(0, 100))}`)
      const text = JSON.stringify(body)
      response.writeHead(status, {
        ...(method === "HEAD" ? errorHeaders(status, body) : {}),
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text)
      })
      response.end(method === "HEAD" ? undefined : text)
    } else {
      status = 200
      response.writeHead(status, {
        ...securityHeaders,
        "content-type": asset.contentType,
        "content-length": asset.body.length
      })
      response.end(method === "HEAD" ? undefined : asset.body)
    }
    recordHttpRequest(
      path === CONSOLE_PATH ? CONSOLE_PATH : CONSOLE_ASSET_PATH,
      method,
      status,
      (performance.now() - started) / 1000
    )
    return true
  }
