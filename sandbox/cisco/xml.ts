/**
 * CCP's XML: request bodies parsed (values stay strings), chat events and `<apiErrors>` written
 * as JAXB writes them, and CCP's refusals: `<apiErrors><apiError><errorType/><errorMessage/><errorData/>`.
 */
import { HttpServerResponse } from "@effect/platform"
import { Effect, ParseResult } from "effect"
import { XMLBuilder, XMLParser } from "fast-xml-parser"
import { type Refusals, Reject } from "../http/answers.js"
import { javaUrlEncode } from "./javaUrl.js"
import type { ChatEvent } from "./state.js"

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // every value stays a string: "007" is not 7
  trimValues: false, // a message's spaces are its own
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: true, // numeric character references (&#x2713;) like any XML parser
  isArray: (_tag, jPath) => String(jPath) === "SocialContact.extensionFields.extensionField"
})

const orderedBuilder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  suppressEmptyNode: true,
  processEntities: true
})

/** What JAXB writes first. */
const declaration = {
  "?xml": [{ "#text": "" }],
  ":@": { "@_version": "1.0", "@_encoding": "UTF-8", "@_standalone": "yes" }
}

export const xmlAnswer = (status: number, body: string, headers?: Record<string, string>) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "application/xml",
    ...(headers !== undefined ? { headers } : {})
  })

// ---- refusals ----

interface ApiError {
  readonly type: string
  readonly message: string
  /** The offending field, when there is one. */
  readonly data?: string
}

const apiErrorsXml = (errors: ReadonlyArray<ApiError>): string =>
  orderedBuilder.build([
    declaration,
    {
      apiErrors: errors.map((e) => ({
        apiError: [
          { errorType: [{ "#text": e.type }] },
          { errorMessage: [{ "#text": e.message }] },
          ...(e.data !== undefined ? [{ errorData: [{ "#text": e.data }] }] : [])
        ]
      }))
    }
  ])

export const apiErrorsAnswer = (status: number, errors: ReadonlyArray<ApiError>) =>
  xmlAnswer(status, apiErrorsXml(errors))

export const fail = (status: number, errors: ReadonlyArray<ApiError>): Effect.Effect<never, Reject> =>
  Effect.fail(new Reject({ response: apiErrorsAnswer(status, errors) }))

export const invalidInput = (message: string, data?: string) =>
  fail(400, [{ type: "invalidInput", message, ...(data !== undefined ? { data } : {}) }])

export const notFound = (message: string) => fail(404, [{ type: "notFound", message }])

const errorTypes: Record<number, string> = {
  400: "invalidInput",
  401: "unauthorized",
  404: "notFound",
  500: "internalServerError"
}

/** A refusal as one apiError of the status's type. */
export const ccpRefusals: Pick<Refusals, "refuse"> = {
  refuse: (status, message, headers) =>
    xmlAnswer(status, apiErrorsXml([{ type: errorTypes[status] ?? "error", message }]), headers)
}

/** CCP's refusals of a `<root>` body: each schema issue one apiError naming its field (`extensionFields.extensionField.0.name`). */
export const bodyRefusals = (root: string): Refusals => ({
  ...ccpRefusals,
  invalid: (error) =>
    apiErrorsAnswer(
      400,
      ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
        const path = issue.path.map(String).join(".")
        return path === ""
          ? { type: "invalidInput", message: `<${root}> must contain elements`, data: root }
          : { type: "invalidInput", message: `${path}: ${issue.message}`, data: path }
      })
    )
})

/** Parses an XML document whose root must be `root`; an empty root element is `{}`. 400 invalidInput otherwise. */
export const parseXml = (text: string, root: string): Effect.Effect<unknown, Reject> => {
  let parsed: unknown
  try {
    parsed = xmlParser.parse(text, true)
  } catch (e) {
    return invalidInput(`the body is not well-formed XML: ${e instanceof Error ? e.message : String(e)}`)
  }
  const keys = typeof parsed === "object" && parsed !== null ? Object.keys(parsed) : []
  if (keys.length !== 1 || keys[0] !== root) {
    return invalidInput(
      `the body must be one <${root}> element (got ${
        keys.length === 0 ? "none" : keys.map((k) => `<${k}>`).join(", ")
      })`
    )
  }
  const value = (parsed as Record<string, unknown>)[root]
  return Effect.succeed(typeof value === "string" && value.trim() === "" ? {} : value)
}

// ---- chat events ----

/** The event as its XML element (children in the order docs/PROVIDERS.md#cisco-ccp-chat gives). */
const eventNode = (e: ChatEvent) => {
  const text = (name: string, value: string | number) => ({ [name]: [{ "#text": String(value) }] })
  switch (e.kind) {
    case "MessageEvent":
      return { MessageEvent: [text("id", e.id), text("from", e.from), text("body", javaUrlEncode(e.body))] }
    case "PresenceEvent":
      return { PresenceEvent: [text("id", e.id), text("from", e.from), text("status", e.status)] }
    case "TypingEvent":
      return { TypingEvent: [text("id", e.id), text("from", e.from), text("status", e.status)] }
    case "StatusEvent":
      return {
        StatusEvent: [
          text("id", e.id),
          text("status", e.status),
          e.detail === "" ? { detail: [] } : text("detail", e.detail)
        ]
      }
  }
}

const EMPTY_POLL = orderedBuilder.build([declaration, { chatEvents: [] }])

export const chatEventsXml = (events: ReadonlyArray<ChatEvent>): string =>
  events.length === 0 ? EMPTY_POLL : orderedBuilder.build([declaration, { chatEvents: events.map(eventNode) }])
