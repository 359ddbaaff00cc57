/**
 * Every route the gateway serves, read from the HttpApi (api.ts) plus the OpenAPI document, its
 * UI and the operator console (console.ts): which route a request is for when the router has not said (metrics), which methods a
 * path takes (405), and whether a route reads a JSON body (415).
 */
import { HttpApi } from "@effect/platform"
import { Option } from "effect"
import { LcgApi } from "./api.js"
import { CONSOLE_ASSET_PATH, CONSOLE_PATH } from "./console.js"

export const OPENAPI_PATH = "/openapi.json"
export const DOCS_PATH = "/docs"

/**
 * A path's parameters if it matches the route template (`/events/:alias`), else undefined.
 * A parameter matches one non-empty segment.
 */
export const pathMatcher = (template: string) => {
  const segments = template.split("/")
  return (path: string): Record<string, string> | undefined => {
    const parts = path.split("/")
    if (parts.length !== segments.length) return undefined
    const params: Record<string, string> = {}
    for (let i = 0; i < parts.length; i++) {
      const segment = segments[i]!
      if (segment.startsWith(":")) {
        if (parts[i] === "") return undefined
        try {
          params[segment.slice(1)] = decodeURIComponent(parts[i]!)
        } catch {
          // A malformed %-escape: not this route (the HttpApi server answers it).
          return undefined
        }
      } else if (segment !== parts[i]) return undefined
    }
    return params
  }
}

interface RouteEntry {
  readonly method: string
  readonly template: string
  readonly matches: (path: string) => unknown
  /** As the HttpApi's router matches: case-insensitive, a trailing or doubled slash ignored (routerPath). */
  readonly matchesLoosely: (path: string) => unknown
  /** The route decodes its body as JSON (it has a payload schema; a webhook's raw body is not one). */
  readonly readsJson: boolean
}

const entry = (method: string, template: string, readsJson: boolean): RouteEntry => ({
  method,
  template,
  matches: pathMatcher(template),
  matchesLoosely: pathMatcher(template.toLowerCase()),
  readsJson
})

const routes: Array<RouteEntry> = [
  entry("GET", OPENAPI_PATH, false),
  entry("GET", DOCS_PATH, false),
  entry("GET", CONSOLE_PATH, false),
  entry("GET", CONSOLE_ASSET_PATH, false)
]
HttpApi.reflect(LcgApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint }) => {
    routes.push(entry(endpoint.method, endpoint.path, Option.isSome(endpoint.payloadSchema)))
  }
})

/** The path of a URL, as the HttpApi's router (find-my-way's defaults) compares it with its templates. */
const routerPath = (url: string) => {
  const query = url.indexOf("?")
  const path = (query === -1 ? url : url.slice(0, query)).toLowerCase().replace(/\/{2,}/g, "/")
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path
}

/** The route template a request matched, or "unmatched". */
export const templateOf = (method: string, url: string): string => {
  const path = url.split("?")[0] ?? url
  return routes.find((r) => r.method === method && r.matches(path) !== undefined)?.template ?? "unmatched"
}

/** The methods some route takes on the URL's path (HEAD wherever GET is: the router answers it with GET's route). */
export const allowedMethods = (url: string): ReadonlyArray<string> => {
  const path = routerPath(url)
  const methods = new Set(routes.filter((r) => r.matchesLoosely(path) !== undefined).map((r) => r.method))
  if (methods.has("GET")) methods.add("HEAD")
  return [...methods]
}

/** Whether the route the request is for decodes its body as JSON. */
export const readsJson = (method: string, url: string): boolean => {
  const path = routerPath(url)
  return routes.some((r) => r.readsJson && r.method === method && r.matchesLoosely(path) !== undefined)
}
