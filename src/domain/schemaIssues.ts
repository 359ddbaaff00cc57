/**
 * A decoding failure described by path and expectation only, never by the value found
 * there. Effect's formatters print `actual` values, and the values of a tenant's
 * configuration include its secrets (docs/SECURITY.md): "genesys.region: expected one of
 * the known regions", never what the region was.
 */
import { Option, type ParseResult, SchemaAST } from "effect"
import { headOf } from "./textCuts.js"

export interface IssueDescription {
  /** The keys and indexes down to the failing value (`genesys`, `region`); empty for the value itself. */
  readonly path: ReadonlyArray<string>
  readonly message: string
}

/** Expectations are cut here: a struct's or a long union's text says nothing more useful. */
const MAX_EXPECTED = 200

/**
 * What of the sender's input an answer quotes at most: a key in a path (a record's keys are
 * the sender's, of any length), a URL, a provider alias.
 */
export const MAX_QUOTED = 64

/** `text`, or its first `max - 1` characters and an ellipsis. */
export const cut = (text: string, max: number) => (text.length <= max ? text : `${headOf(text, max - 1)}…`)

/** A path as answers print it (`plugins.0.integration`), cut at 256 characters. */
export const pathText = (path: ReadonlyArray<PropertyKey>) => cut(path.map(String).join("."), 256)

/** What a schema expects, from its own words where it has them (a message, a description), else its type. */
const expected = (ast: SchemaAST.AST, issue: ParseResult.ParseIssue): string => {
  const message = SchemaAST.getMessageAnnotation(ast).pipe(
    Option.flatMap((annotation) => {
      const said = annotation(issue)
      if (typeof said === "string") return Option.some(said)
      return typeof said === "object" && "message" in said && typeof said.message === "string"
        ? Option.some(said.message)
        : Option.none()
    })
  )
  if (Option.isSome(message)) return message.value
  const description = SchemaAST.getDescriptionAnnotation(ast)
  if (Option.isSome(description)) return `expected ${cut(description.value, MAX_EXPECTED)}`
  if (SchemaAST.isUnion(ast)) {
    // An optional field is a union with undefined: only what may be given is worth saying.
    const members = ast.types.filter((member) => !SchemaAST.isUndefinedKeyword(member))
    return `expected ${cut(members.map(typeText).join(" or "), MAX_EXPECTED)}`
  }
  return `expected ${cut(typeText(ast), MAX_EXPECTED)}`
}

/** A type as a message says it: a struct or record, an array, by its kind (their own text lists every field), else its text. */
const typeText = (ast: SchemaAST.AST): string =>
  SchemaAST.isTypeLiteral(ast) ? "an object" : SchemaAST.isTupleType(ast) ? "an array" : String(ast)

/** The message a filter returned for `issue`, if it returned one. */
const filterMessage = (issue: ParseResult.ParseIssue): string | undefined =>
  issue._tag === "Type" ? issue.message : undefined

const walk = (issue: ParseResult.ParseIssue, path: ReadonlyArray<string>, out: Array<IssueDescription>): void => {
  switch (issue._tag) {
    case "Pointer": {
      const keys: ReadonlyArray<PropertyKey> = Array.isArray(issue.path) ? issue.path : [issue.path as PropertyKey]
      return walk(issue.issue, [...path, ...keys.map((key) => cut(String(key), MAX_QUOTED))], out)
    }
    case "Composite": {
      const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues]
      if (!SchemaAST.isUnion(issue.ast)) {
        for (const inner of issues) walk(inner, path, out)
        return
      }
      // A union's members each failed: one expectation for the field, not one per member; and
      // where a member got further (an optional struct), what failed inside it, not "expected undefined".
      const deeper = issues.filter((inner) => inner._tag !== "Type")
      if (deeper.length === 0) out.push({ path, message: expected(issue.ast, issue) })
      for (const inner of deeper) walk(inner, path, out)
      return
    }
    case "Refinement":
      if (issue.kind === "From") return walk(issue.issue, path, out)
      // A filter's own message says which of its conditions failed (our filters never quote the value).
      out.push({ path, message: filterMessage(issue.issue) ?? expected(issue.ast, issue) })
      return
    case "Transformation":
      // The transformation itself failed (JSON that does not parse): its error message quotes the input.
      if (issue.kind === "Transformation") {
        out.push({ path, message: "could not be read" })
        return
      }
      return walk(issue.issue, path, out)
    case "Type":
      out.push({ path, message: expected(issue.ast, issue) })
      return
    case "Missing":
      out.push({ path, message: "is missing" })
      return
    case "Unexpected":
      out.push({ path, message: "is not allowed" })
      return
    case "Forbidden":
      out.push({ path, message: "could not be checked" })
      return
  }
}

/** Each failing path of `error` with what was expected there; no value of the input appears. */
export const describeIssues = (error: ParseResult.ParseError): ReadonlyArray<IssueDescription> => {
  const out: Array<IssueDescription> = []
  walk(error.issue, [], out)
  return out
}

/** `describeIssues` as one line: `path: message; path: message`. */
export const describeIssuesInline = (error: ParseResult.ParseError): string => issuesInline(describeIssues(error))

/** Issues as one line: `path: message; path: message`. */
export const issuesInline = (
  issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>
): string =>
  issues.map(({ message, path }) => (path.length === 0 ? message : `${pathText(path)}: ${message}`)).join("; ")
