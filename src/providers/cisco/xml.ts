/**
 * The CCP chat API's XML (docs/PROVIDERS.md#cisco-ccp-chat), built and parsed with
 * fast-xml-parser and then decoded with Schemas: never by string concatenation or regexes.
 * Malformed XML from the provider is a typed `CiscoXmlError`, not a crash.
 */
import type { Effect } from "effect"
import { Data, Either, Schema } from "effect"
import { XMLBuilder, XMLParser } from "fast-xml-parser"

export class CiscoXmlError extends Data.TaggedError("CiscoXmlError")<{ readonly message: string }> {}

const eventTags = ["MessageEvent", "PresenceEvent", "TypingEvent", "StatusEvent"] as const
type EventTag = (typeof eventTags)[number]

const parser = new XMLParser({
  // Text stays text (an id "007" or a body "1e3" must not turn into numbers).
  parseTagValue: false,
  ignoreDeclaration: true,
  isArray: (name) =>
    (eventTags as ReadonlyArray<string>).includes(name) || name === "apiError" || name === "extensionField"
})
const builder = new XMLBuilder({})

/** Parses and validates a document; malformed XML is a `CiscoXmlError`. */
const parse = (xml: string): Either.Either<unknown, CiscoXmlError> =>
  Either.try({
    try: () => parser.parse(xml, true) as unknown,
    catch: (e) =>
      new CiscoXmlError({ message: `malformed XML from CCP: ${e instanceof Error ? e.message : String(e)}` })
  })

const build = (document: Record<string, unknown>) => builder.build(document) as string

// ---------------------------------------------------------------------------------------
// What we send

export interface SocialContact {
  readonly feedRefUrl: string
  readonly author: string
  readonly title: string
  readonly extensionFields: ReadonlyArray<readonly [name: string, value: string]>
}

export const socialContactXml = (contact: SocialContact) =>
  build({
    SocialContact: {
      feedRefURL: contact.feedRefUrl,
      author: contact.author,
      title: contact.title,
      extensionFields: { extensionField: contact.extensionFields.map(([name, value]) => ({ name, value })) }
    }
  })

export const messageXml = (text: string) => build({ Message: { body: text } })

export const typingXml = (from: string, status: "composing" | "paused") => build({ TypingEvent: { from, status } })

// ---------------------------------------------------------------------------------------
// What CCP answers

/** An element's text: "" for an empty element (`<detail/>`). */
const Text = Schema.Union(Schema.String, Schema.Literal("")).pipe(Schema.optionalWith({ default: () => "" }))
const EventId = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())

export const CcpEvent = Schema.Union(
  Schema.TaggedStruct("MessageEvent", { id: EventId, from: Text, body: Text }),
  Schema.TaggedStruct("PresenceEvent", { id: EventId, from: Text, status: Schema.String }),
  Schema.TaggedStruct("TypingEvent", { id: EventId, from: Text, status: Schema.String }),
  Schema.TaggedStruct("StatusEvent", { id: EventId, status: Schema.String, detail: Text })
)
export type CcpEvent = typeof CcpEvent.Type

const decodeEvent = Schema.decodeUnknownEither(CcpEvent)

/** A poll's events, and the types of the elements that could not be read (skipped, so one cannot block the chat). */
export interface ChatEvents {
  readonly events: ReadonlyArray<CcpEvent>
  readonly unreadable: ReadonlyArray<string>
}

/** `<chatEvents>` -> its events in id order (the parser groups them by type; ids increase in the order they happened). */
export const parseChatEvents = (xml: string): Effect.Effect<ChatEvents, CiscoXmlError> =>
  // Most polls find nothing: their answer is only `<chatEvents/>` (after any declaration).
  // perf: docs/ARCHITECTURE.md#perf-ccp-undici-pool
  xml.trimEnd().endsWith("<chatEvents/>") && !xml.includes("<chatEvents>")
    ? Either.right({ events: [], unreadable: [] })
    : parseEvents(xml)

const parseEvents = (xml: string): Either.Either<ChatEvents, CiscoXmlError> =>
  Either.flatMap(parse(xml), (document) => {
    const root = (document as { chatEvents?: unknown }).chatEvents
    if (root === undefined) {
      return Either.left(new CiscoXmlError({ message: "CCP answered a poll without <chatEvents>" }))
    }
    if (root === "") return Either.right({ events: [], unreadable: [] })
    const events: Array<CcpEvent> = []
    const unreadable: Array<string> = []
    for (const tag of eventTags) {
      for (const element of ((root as Partial<Record<EventTag, ReadonlyArray<unknown>>>)[tag] ?? [])) {
        // The tag goes last: a `<_tag>` child must not choose the event's type.
        const event = decodeEvent({ ...(typeof element === "object" && element !== null ? element : {}), _tag: tag })
        if (Either.isLeft(event)) unreadable.push(tag)
        else events.push(event.right)
      }
    }
    return Either.right({ events: events.sort((a, b) => a.id - b.id), unreadable })
  })

/** The `errorType` of an `<apiErrors>` body (`notFound`, `invalidInput`, ...), if it is one. */
export const apiErrorType = (xml: string): string | undefined => {
  const document = parse(xml)
  if (Either.isLeft(document)) return undefined
  const errors = (document.right as { apiErrors?: { apiError?: ReadonlyArray<{ errorType?: unknown }> } }).apiErrors
  const errorType = errors?.apiError?.[0]?.errorType
  return typeof errorType === "string" ? errorType : undefined
}

/**
 * A message body as CCP sends it: form-encoded like Java's URLEncoder (a space is `+`, a
 * literal `+` is `%2B`). `+` becomes a space first, then percent-decoding; a body that is
 * not valid percent-encoding is kept as it came.
 */
export const decodeFormBody = (body: string): string => {
  const spaced = body.replace(/\+/g, " ")
  try {
    return decodeURIComponent(spaced)
  } catch {
    return spaced
  }
}
