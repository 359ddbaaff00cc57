/**
 * Every answer a gateway of the e2e suites gives, checked against the OpenAPI document that
 * gateway serves (`GET /openapi.json`): the status is one its operation declares, the declared
 * headers are there and every `X-` header is declared, the body is of a declared media type
 * and valid against its schema (Ajv, JSON Schema 2020-12, the document's own dialect). A path
 * no operation has must be the document's NotFound, another method its MethodNotAllowed with
 * an Allow that lists the path's methods.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js"
import { CONSOLE_PATH } from "../../src/http/console.js"
import { DOCS_PATH, OPENAPI_PATH } from "../../src/http/routes.js"

type Json = Record<string, any>

/** One answer, as fetch gave it. */
export interface Exchange {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

/** Paths the document does not describe: itself, its UI and the operator console's files. */
const undescribed = (path: string) =>
  path === OPENAPI_PATH || path === DOCS_PATH || path.toLowerCase().startsWith(CONSOLE_PATH)

/** As the server's router reads a path: case-insensitive, a trailing or doubled slash ignored. */
const routerPath = (path: string) => {
  const collapsed = path.toLowerCase().replace(/\/{2,}/g, "/")
  return collapsed.length > 1 && collapsed.endsWith("/") ? collapsed.slice(0, -1) : collapsed
}

/** A path segment a parameter can take: not empty, and percent-encoded UTF-8 if encoded (else no route has it). */
const isParameterValue = (segment: string) => {
  try {
    return decodeURIComponent(segment) !== ""
  } catch {
    return false
  }
}

const matchesTemplate = (template: string, path: string) => {
  const expected = routerPath(template).split("/")
  const parts = path.split("/")
  return expected.length === parts.length &&
    expected.every((segment, i) => (segment.startsWith("{") ? isParameterValue(parts[i]!) : segment === parts[i]))
}

const mediaType = (contentType: string | null) => (contentType ?? "").split(";")[0]!.trim().toLowerCase()

/** The checks one served document makes: `problems` of an exchange, empty when the document declares it. */
export const conformanceTo = (document: Json) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  // Header values are strings on the wire; their schemas say what the string holds (an integer...).
  const headerAjv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: true })
  const compiled = new Map<string, ValidateFunction>()
  const validator = (key: string, schema: Json, headers = false) => {
    let validate = compiled.get(key)
    if (validate === undefined) {
      validate = (headers ? headerAjv : ajv).compile({ ...schema, components: document["components"] })
      compiled.set(key, validate)
    }
    return validate
  }
  const describe = (validate: ValidateFunction, what: string) => ajv.errorsText(validate.errors, { dataVar: what })

  const resolve = (response: Json): Json =>
    typeof response["$ref"] === "string"
      ? document["components"]["responses"][String(response["$ref"]).split("/").at(-1)!]
      : response

  /**
   * What is wrong with `exchange` answered as `response` (of `name`), by the declared headers
   * and content; `headOperation`: the response is a HEAD operation's, which declares no body.
   */
  const checkResponse = (name: string, response: Json, exchange: Exchange, headOperation: boolean): Array<string> => {
    const problems: Array<string> = []
    const headers: Record<string, Json> = response["headers"] ?? {}
    const declared = new Set(Object.keys(headers).map((header) => header.toLowerCase()))
    // Any error answer to HEAD: the document's general rule (info.description).
    if (exchange.method === "HEAD" && exchange.status >= 400) declared.add("x-error").add("x-error-message")
    exchange.headers.forEach((_, header) => {
      if (header.startsWith("x-") && !declared.has(header)) problems.push(`header ${header} is not declared`)
    })
    const required = Object.entries(headers).filter(([, header]) => header["required"] === true)
    const headerSchema = {
      type: "object",
      properties: Object.fromEntries(
        Object.entries(headers).map(([header, { schema }]) => [header.toLowerCase(), schema])
      ),
      required: required.map(([header]) => header.toLowerCase())
    }
    const headerValues: Record<string, string> = {}
    exchange.headers.forEach((value, header) => {
      if (declared.has(header)) headerValues[header] = value
    })
    const validateHeaders = validator(`${name} headers`, headerSchema, true)
    if (!validateHeaders(headerValues)) problems.push(describe(validateHeaders, "headers"))

    const content: Record<string, Json> | undefined = response["content"]
    if (exchange.method === "HEAD") {
      if (content !== undefined && headOperation) problems.push("a HEAD operation declares a body")
      return problems
    }
    if (content === undefined) {
      if (exchange.text !== "") {
        problems.push(`a body is answered where none is declared: ${exchange.text.slice(0, 200)}`)
      }
      return problems
    }
    const type = mediaType(exchange.headers.get("content-type"))
    const media = content[type]
    if (media === undefined) {
      return [...problems, `content-type ${type} is not declared (${Object.keys(content).join(", ")})`]
    }
    let body: unknown = exchange.text
    if (type === "application/json") {
      try {
        body = JSON.parse(exchange.text)
      } catch {
        return [...problems, `the body is not JSON: ${exchange.text.slice(0, 200)}`]
      }
    }
    const validateBody = validator(`${name} ${type}`, media["schema"] ?? {})
    if (!validateBody(body)) {
      problems.push(`${describe(validateBody, "body")}: ${JSON.stringify(body).slice(0, 300)}`)
    }
    return problems
  }

  const paths = document["paths"] as Record<string, Json>

  /** The problems of one exchange, each naming the operation (or the rule) it was checked against. */
  return (exchange: Exchange): Array<string> => {
    const url = new URL(exchange.url)
    if (undescribed(url.pathname)) return []
    const path = routerPath(url.pathname)
    const template = Object.keys(paths).find((template) => matchesTemplate(template, path))
    const said = `${exchange.method} ${url.pathname}`
    if (template === undefined) {
      const problems = exchange.status === 404 ?
        checkResponse("NotFound", resolve({ $ref: "#/components/responses/NotFound" }), exchange, false) :
        [`${exchange.status}: no operation has the path, so the answer must be 404`]
      return problems.map((problem) => `${said} (no operation): ${problem}`)
    }
    const operations = paths[template]!
    const method = exchange.method.toLowerCase()
    const head = method === "head" && operations["head"] === undefined && operations["get"] !== undefined
    const operation: Json | undefined = operations[head ? "get" : method]
    if (operation === undefined) {
      const name = `${said} (MethodNotAllowed)`
      if (exchange.status !== 405) {
        return [`${name}: ${exchange.status}: no operation has the method, so the answer must be 405`]
      }
      const methods = METHODS.filter((m) => operations[m] !== undefined).map((m) => m.toUpperCase())
      if (methods.includes("GET") && !methods.includes("HEAD")) methods.push("HEAD")
      const allow = (exchange.headers.get("allow") ?? "").split(",").map((m) => m.trim()).filter((m) => m !== "")
      const problems = checkResponse(
        "MethodNotAllowed",
        resolve({ $ref: "#/components/responses/MethodNotAllowed" }),
        exchange,
        false
      )
      if ([...allow].sort().join() !== [...methods].sort().join()) {
        problems.push(`Allow is "${allow.join(", ")}", the document has ${methods.join(", ")}`)
      }
      return problems.map((problem) => `${name}: ${problem}`)
    }
    const name = `${said} (${operation["operationId"]}${head ? ", by its GET" : ""})`
    const response: Json | undefined = operation["responses"][String(exchange.status)] ??
      operation["responses"]["default"]
    if (response === undefined) {
      return [`${name}: ${exchange.status} is not declared (${Object.keys(operation["responses"]).join(", ")})`]
    }
    return checkResponse(
      `${operation["operationId"]} ${exchange.status}`,
      resolve(response),
      exchange,
      method === "head" && !head
    )
      .map((problem) => `${name} ${exchange.status}: ${problem}`)
  }
}

const realFetch = globalThis.fetch

/** The checks of each gateway the suite started, by its base URL: fetched from it on first use. */
const gateways = new Map<string, Promise<(exchange: Exchange) => Array<string>>>()

/** Every problem found since the last `takeProblems`. */
let problems: Array<string> = []

/** Checks every answer of the gateway at `base` from now on. */
export const checkAnswersOf = (base: string) => {
  gateways.set(
    base,
    realFetch(`${base}${OPENAPI_PATH}`).then((response) => response.json()).then((document) =>
      conformanceTo(document as Json)
    )
  )
}

export const takeProblems = () => {
  const taken = problems
  problems = []
  return taken
}

/**
 * fetch, the answers of the gateways checked (read from a clone: the caller reads its own):
 * an answer the document does not declare rejects the call, naming the operation.
 */
const checkedFetch: typeof fetch = async (input, init) => {
  const response = await realFetch(input, init)
  const url = input instanceof Request ? input.url : String(input)
  const base = [...gateways.keys()].find((base) => url.startsWith(`${base}/`))
  if (base === undefined) return response
  const check = await gateways.get(base)!
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase()
  const found = check({
    method,
    url,
    status: response.status,
    headers: response.headers,
    text: await response.clone().text()
  })
  if (found.length === 0) return response
  problems = problems.concat(found)
  throw new Error(`the answer is not what /openapi.json declares:\n${found.join("\n")}`)
}

globalThis.fetch = checkedFetch
