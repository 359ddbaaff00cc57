/**
 * What the OpenAPI document generated from the HttpApi (api.ts) says beyond the endpoints'
 * schemas, so that it describes what server.ts really answers: the 400 body that replaces
 * HttpApiDecodeError, HEAD answers (headers, no body), 404/405 for paths and methods no
 * operation has, request bodies that ignore unknown fields, and the package's version.
 */
import { Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"

type Json = Record<string, any>

/** The nearest package.json above `directory`: the project's, from src/, dist/ or a test build alike. */
const nearestPackageJson = (directory: URL): URL => {
  const candidate = new URL("package.json", directory)
  if (existsSync(candidate)) return candidate
  const parent = new URL("..", directory)
  if (parent.href === directory.href) throw new Error("no package.json above the gateway's modules")
  return nearestPackageJson(parent)
}

/** The version in the project's package.json. */
export const packageVersion = Schema.decodeUnknownSync(
  Schema.parseJson(Schema.Struct({ name: Schema.Literal("hbf-lcg"), version: Schema.String }))
)(readFileSync(nearestPackageJson(new URL(".", import.meta.url)), "utf8")).version

/** A response header as OpenAPI declares it. */
export interface HeaderDoc {
  readonly description: string
  readonly required?: boolean
  readonly schema: Json
}

const Count = { type: "integer", minimum: 0 }

export const countHeader = (description: string): HeaderDoc => ({ description, required: true, schema: Count })

/** The headers an error answer to HEAD carries in place of its body (errors.ts errorHeaders). */
const errorHeaderDocs: Record<string, HeaderDoc> = {
  "X-Error": { description: "The error's code: the body's `error`.", required: true, schema: { type: "string" } },
  "X-Error-Message": {
    description:
      "The error's message: printable ASCII, anything else (and `%`) percent-encoded as UTF-8, at most 256 characters.",
    required: true,
    schema: { type: "string", maxLength: 256 }
  }
}

/** A HEAD operation as served: no answer has a body, the 200 carries `headers`, an error its code and message. */
export const headOperation = (headers: Record<string, HeaderDoc>) => (operation: Json): Json => ({
  ...operation,
  responses: Object.fromEntries(
    Object.entries(operation.responses as Record<string, Json>).map(([status, { content: _, ...response }]) => [
      status,
      Number(status) >= 400
        ? { ...response, headers: errorHeaderDocs }
        : Object.keys(headers).length > 0
        ? { ...response, headers }
        : response
    ])
  )
})

const schemaRef = (name: string) => `#/components/schemas/${name}`

/** Every object reachable from `node` (following `$ref`s into components), each once. */
const reachable = (node: unknown, components: Json, seen = new Set<object>()): Set<object> => {
  if (typeof node !== "object" || node === null || seen.has(node)) return seen
  seen.add(node)
  const ref = (node as Json)["$ref"]
  if (typeof ref === "string" && ref.startsWith(schemaRef(""))) {
    reachable(components[ref.slice(schemaRef("").length)], components, seen)
  }
  for (const value of Object.values(node)) reachable(value, components, seen)
  return seen
}

/** The 400 of every operation, with the body server.ts answers in place of HttpApiDecodeError's. */
const withoutDecodeError = (response: Json): Json => {
  const content = response["content"]?.["application/json"]
  if (content === undefined) return { ...response, description: "BadRequest" }
  const members: Array<Json> = content.schema.anyOf ?? [content.schema]
  const kept = members.filter((member) => member["$ref"] !== schemaRef("HttpApiDecodeError"))
  return {
    description: kept.map((member) => String(member["$ref"]).slice(schemaRef("").length)).join(" | "),
    content: { "application/json": { schema: kept.length === 1 ? kept[0] : { anyOf: kept } } }
  }
}

const routeErrorResponse = (description: string, schema: string, headers: Record<string, HeaderDoc> = {}) => ({
  description,
  ...(Object.keys(headers).length > 0 ? { headers } : {}),
  content: { "application/json": { schema: { $ref: schemaRef(schema) } } }
})

/**
 * The whole document as served: HttpApiDecodeError (which server.ts answers as BadRequest)
 * gone, and the 400 of operations with nothing to decode; request bodies open to unknown
 * fields (they are ignored); the answers to a path or method no operation has, as
 * `components.responses`; no schema nothing refers to.
 */
export const servedDocument = (document: Json): Json => {
  const { HttpApiDecodeError: _, ...schemas } = document.components.schemas as Json
  const paths = document.paths as Record<string, Record<string, Json>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      if (operation.parameters.length === 0 && operation.requestBody === undefined) delete operation.responses["400"]
      else if (operation.responses["400"] !== undefined) {
        operation.responses["400"] = withoutDecodeError(operation.responses["400"])
      }
      const body = operation.requestBody
      if (body !== undefined) {
        for (const node of reachable(body, schemas)) {
          if ((node as Json)["additionalProperties"] === false) delete (node as Json)["additionalProperties"]
        }
      }
    }
  }
  const responses = {
    NotFound: routeErrorResponse("No operation has the path, whatever the method.", "NotFound"),
    MethodNotAllowed: routeErrorResponse(
      "An operation has the path, not for this method (HEAD is answered wherever GET is).",
      "MethodNotAllowed",
      {
        Allow: {
          description: "The methods the path takes, comma-separated.",
          required: true,
          schema: { type: "string" }
        }
      }
    )
  }
  const referred = reachable([paths, responses], schemas)
  return {
    ...document,
    components: {
      ...document.components,
      schemas: Object.fromEntries(Object.entries(schemas).filter(([, schema]) => referred.has(schema))),
      responses
    }
  }
}
