/**
 * What the HTTP boundary takes from a sender before any schema looks at it: JSON nested at
 * most MAX_JSON_DEPTH levels and of at most MAX_JSON_VALUES values, and payloads and query strings whose decoding failures are
 * described by path and expectation (describeIssues), never by the value sent.
 *
 * HttpApiBuilder formats a decoding failure itself (Effect's formatters, which print the
 * value found: a 900 KB field twice, or a stack overflow on a value nested 300k deep); the
 * schemas here fail with their failure already described, so that formatting prints only
 * the description, on the HttpApi server and the direct routes alike.
 */
import { Either, ParseResult, Schema, SchemaAST } from "effect"
import { cut, describeIssues, type IssueDescription, MAX_QUOTED } from "../domain/schemaIssues.js"

/** JSON nested deeper than this is refused before it is decoded: no schema or formatter walks it. */
const MAX_JSON_DEPTH = 64

export const tooDeepMessage = `nests deeper than ${MAX_JSON_DEPTH} levels`

/**
 * A payload with more values than this (every object, array, string, number...) is refused
 * before it is decoded. The largest valid request has about 1,000 (a transcript of 200
 * entries); without the bound, 1 MiB of 340k wrong entries took 7.8 s of the event loop to
 * decode and describe, every wrong entry one issue.
 */
const MAX_JSON_VALUES = 4096

const tooManyMessage = `holds more than ${MAX_JSON_VALUES} values`

/**
 * Why a parsed JSON value is refused before decoding, at which path: an object or array past
 * MAX_JSON_DEPTH, or more than MAX_JSON_VALUES values in all (`budget` counts them down). It
 * goes no deeper than the depth limit, so its own recursion is bounded.
 */
const refusalIn = (value: unknown, depth: number, budget: { left: number }): IssueDescription | undefined => {
  if (--budget.left < 0) return { path: [], message: tooManyMessage }
  if (typeof value !== "object" || value === null) return undefined
  if (depth === MAX_JSON_DEPTH) return { path: [], message: tooDeepMessage }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const below = refusalIn(value[index], depth + 1, budget)
      if (below !== undefined) {
        return below.message === tooManyMessage
          ? below
          : { ...below, path: [String(index), ...below.path] }
      }
    }
    return undefined
  }
  for (const key in value) {
    const below = refusalIn((value as Record<string, unknown>)[key], depth + 1, budget)
    if (below !== undefined) {
      return below.message === tooManyMessage
        ? below
        : { ...below, path: [cut(key, MAX_QUOTED), ...below.path] }
    }
  }
  return undefined
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_ARRAY = 0x5b
const OPEN_OBJECT = 0x7b
const CLOSE_ARRAY = 0x5d
const CLOSE_OBJECT = 0x7d

/** The index of the last byte of the string starting at `start` (its closing quote), or the end. */
const stringEnd = (json: Uint8Array, start: number, end: number) => {
  let i = start + 1
  for (; i < end; i++) {
    const c = json[i]
    if (c === BACKSLASH) i++
    else if (c === QUOTE) return i
  }
  return i
}

/**
 * The offset of the bracket where a JSON text first nests past MAX_JSON_DEPTH, or -1. One
 * pass over the bytes that skips strings and parses nothing: the raw body of a webhook is
 * checked before its signature, so before any parser.
 */
const tooDeepOffset = (json: Uint8Array): number => {
  let depth = 0
  for (let i = 0; i < json.length; i++) {
    const c = json[i]
    if (c === QUOTE) i = stringEnd(json, i, json.length)
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) return i
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--
  }
  return -1
}

/** The keys and indexes of the containers open at `end` (a refused body only: this walks it again, slower). */
const pathAt = (json: Uint8Array, end: number): Array<string> => {
  const open: Array<{ readonly array: boolean; key: string; index: number; keyNext: boolean }> = []
  for (let i = 0; i < end; i++) {
    const c = json[i]
    const top = open.at(-1)
    if (c === QUOTE) {
      const start = i
      i = stringEnd(json, i, end)
      if (top !== undefined && top.keyNext) {
        // The key as sent, escapes and all: the answer names it, nothing decodes it.
        top.key = cut(
          Buffer.from(json.buffer, json.byteOffset + start + 1, Math.max(0, i - start - 1)).toString("utf8"),
          MAX_QUOTED
        )
        top.keyNext = false
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      open.push({ array: c === OPEN_ARRAY, key: "", index: 0, keyNext: c === OPEN_OBJECT })
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) open.pop()
    else if (c === COMMA && top !== undefined) {
      if (top.array) top.index++
      else top.keyNext = true
    }
  }
  return open.map((container) => (container.array ? String(container.index) : container.key))
}

/** Where a JSON text nests past MAX_JSON_DEPTH, if it does: the path to that value. */
export const tooDeepJson = (json: Uint8Array): Array<string> | undefined => {
  const offset = tooDeepOffset(json)
  return offset === -1 ? undefined : pathAt(json, offset)
}

/** A failure already described: each description a Type issue carrying its message, at its path. */
const describedIssue = (ast: SchemaAST.AST, descriptions: ReadonlyArray<IssueDescription>): ParseResult.ParseIssue => {
  const issues = descriptions.map(({ message, path }): ParseResult.ParseIssue => {
    const issue = new ParseResult.Type(ast, undefined, message)
    return path.length === 0 ? issue : new ParseResult.Pointer(path as [string, ...Array<string>], undefined, issue)
  })
  if (issues.length === 0) return new ParseResult.Type(ast, undefined, "is invalid")
  return issues.length === 1
    ? issues[0]!
    : new ParseResult.Composite(ast, undefined, issues as [ParseResult.ParseIssue, ...Array<ParseResult.ParseIssue>])
}

/**
 * `schema`, its input refused when nested past MAX_JSON_DEPTH or holding more than
 * MAX_JSON_VALUES values, and its failures described
 * (every wrong field, each once, saying what it expects). Documented (OpenAPI) as `schema`.
 */
export const described = <A, I>(schema: Schema.Schema<A, I>): Schema.Schema<A, I> => {
  const decode = ParseResult.decodeUnknownEither(schema, { errors: "all" })
  const encode = ParseResult.encodeUnknownEither(schema)
  return Schema.declare<A, I, readonly []>(
    [],
    {
      decode: () => (input, _, ast) => {
        const refusal = refusalIn(input, 0, { left: MAX_JSON_VALUES })
        if (refusal !== undefined) return Either.left(describedIssue(ast, [refusal]))
        return Either.mapLeft(
          decode(input),
          (issue) => describedIssue(ast, describeIssues(new ParseResult.ParseError({ issue })))
        )
      },
      encode: () => (input) => encode(input)
    },
    {
      [SchemaAST.SurrogateAnnotationId]: schema.ast,
      // What the formatters print for the issues above: their own message.
      message: (issue) => (issue._tag === "Type" && issue.message !== undefined ? issue.message : "is invalid")
    }
  )
}

/**
 * HttpApiBuilder hands a query parameter to its schema as a string where it sees a string
 * type there, else as an array of them; behind a declaration it sees none, so this record
 * stands in front.
 */
const QueryParams = Schema.Record({
  key: Schema.String,
  value: Schema.Union(Schema.String, Schema.Array(Schema.String))
})

/** `described` for a query string's parameters. */
export const describedQuery = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.compose(QueryParams, described(schema), { strict: false }).annotations({
    [SchemaAST.SurrogateAnnotationId]: schema.ast
  })

/**
 * Whether a Content-Type says JSON: `application/json`, with any parameters (a charset). None
 * at all is read as JSON too, as the HttpApi server has always read it.
 */
export const isJsonContentType = (contentType: string | undefined): boolean => {
  // perf: docs/ARCHITECTURE.md#perf-direct-routes (what hbf-bot sends is compared, not parsed)
  if (contentType === undefined || contentType === "" || contentType === "application/json") return true
  const semicolon = contentType.indexOf(";")
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === "application/json"
}
