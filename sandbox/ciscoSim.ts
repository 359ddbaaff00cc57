/**
 * Cisco Customer Collaboration Platform (CCP, formerly SocialMiner) chat REST API simulator
 * (PROVIDERS.md "Cisco — cisco-livechat"): XML bodies, the chat identified by its
 * JSESSIONID cookie alone, polled events with gapped ids, a scriptable agent, the join and
 * inactivity timeouts, scripted 5xx answers and garbled poll answers. Errors use the CCP body
 * `<apiErrors><apiError><errorType/><errorMessage/><errorData/></apiError>…</apiErrors>`:
 * 404 `notFound` for a missing, expired, unknown or deleted session cookie; 400 `invalidInput`
 * for bad input (malformed XML, a missing or bad field — named in errorMessage and
 * errorData —, an unknown feed, a Content-Type other than application/xml).
 *
 * Customer routes (base `/ccp/rest/chat`, or the older `/ccp/chat`; a trailing slash is fine;
 * header X-API-Key required when `apiKey` is set, 401 otherwise):
 *   POST   {base}                 <SocialContact> -> 201, empty body, Location + Set-Cookie JSESSIONID (Path=/ccp; HttpOnly)
 *   GET    {base}?eventid=N&all=false|true   -> 200 <chatEvents> (every event with id > N, in id order; <chatEvents/> when none)
 *   PUT    {base}                 <Message><body>text</body></Message> -> 200, empty body
 *   PUT    {base}/event           <TypingEvent><from/><status>composing|paused</status></TypingEvent> -> 200, empty body
 *   PUT    {base}/leaveChat       the customer leaves -> 200, empty body (polling still answers)
 *   DELETE {base}                 ends the session: the cookie is dead from now on -> 200, empty body
 * Sandbox routes (no auth, JSON, for curl):
 *   GET  /sim/chats                                     the chats (SimChat)
 *   POST /sim/chats/{chatId}/join|say|typing|leave|status
 *        bodies: join {agentName?}; say {text}; typing {status: composing|paused}; status {status, detail?}
 *   POST /sim/fail                                      { n, status: 500|503 }
 *   POST /sim/garble                                    { n }
 *   GET  /sim/requests                                  the /ccp requests received
 *
 * Choices where PROVIDERS.md is silent:
 *   - A new chat starts with StatusEvent `chat_ok` (Cisco's samples treat it as "chat request created").
 *   - `all=false` leaves out only the customer's own MessageEvents; its TypingEvents and its
 *     PresenceEvent `left` (after leaveChat) are always returned: a client tells them apart by `from`
 *     (= the author it sent). There is no PresenceEvent `joined` for the customer.
 *   - A customer message or typing event on an ended chat (agent left, timed out, customer left)
 *     answers 400 invalidInput: the session still exists (so not 404) but the request cannot be honoured.
 *     leaveChat is idempotent (200) on an ended chat.
 *   - Inactivity (no customer or agent activity; polls do not count) ends the chat with a PresenceEvent
 *     `left` for each agent present, then StatusEvent `chat_finished` (detail "inactivity timeout").
 *   - The session itself (the cookie) expires after `inactivityTimeoutMs` without any request on it
 *     (polls count here, as for a servlet session): 404 notFound from then on.
 *   - Poll answers carry the XML declaration JAXB writes (`<?xml … standalone="yes"?>`).
 *   - failNext: 500 answers an apiErrors body (errorType `internalServerError`), 503 an empty body
 *     (what a proxy in front of CCP sends).
 *   - Dead sessions (deleted or expired) are forgotten 10 minutes after they died; `requests()` keeps
 *     the latest 100,000 requests.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Data, Effect, Either, ParseResult, Schema } from "effect"
import type { Scope } from "effect"
import { XMLBuilder, XMLParser } from "fast-xml-parser"
import { randomBytes, randomInt } from "node:crypto"
import { createServer } from "node:http"
import { decodeValue, handle, json, param, parseJson, Reject, request } from "./simHttp.js"

// ---------------------------------------------------------------------------------------
// Options and the scripting interface

export interface CiscoSimOptions {
  /** The feeds chats may be created on (feedRefURL must be `{baseUrl}/ccp-webapp/ccp/feed/{feedId}` of one of them; accept any host in the URL, match on the feed id). */
  readonly feeds: ReadonlyArray<string>
  /** When set, every /ccp request must carry header X-API-Key with this value (401 otherwise): an API gateway in front of CCP. */
  readonly apiKey?: string
  /** The feed's inactivity timeout: a chat with no activity (customer or agent) for this long ends. Default 300_000 ms. */
  readonly inactivityTimeoutMs?: number
  /** An agent who never joins: after this long the chat gets StatusEvent chat_timedout_waiting_for_agent and ends. Default 60_000 ms; 0 = never. */
  readonly joinTimeoutMs?: number
}

export interface SimChat {
  /** 32 hex chars, as in the Location header. */
  readonly chatId: string
  /** The JSESSIONID value. */
  readonly cookie: string
  readonly feedId: string
  readonly author: string
  readonly title: string
  readonly extensionFields: Readonly<Record<string, string>>
  readonly state: "waiting" | "active" | "ended"
  /** Customer messages as received (their text, XML-unescaped). */
  readonly customerMessages: ReadonlyArray<string>
  readonly customerTyping: ReadonlyArray<"composing" | "paused">
  readonly customerLeft: boolean
  readonly deleted: boolean
  readonly polls: number
  readonly lastEventId: number
}

export interface SimCcpRequest {
  readonly method: string
  readonly path: string
  /** The query string without `?` ("" when none). */
  readonly query: string
  readonly status: number
  /** The chat whose cookie the request carried, if any. */
  readonly chatId?: string
}

/**
 * Scripting methods die (a `CiscoSimError` defect) on misuse: an unknown chat, an agent
 * action on an ended chat, speaking with no agent joined. The /sim routes answer those as 404/409.
 */
export interface CiscoSim {
  /** e.g. http://127.0.0.1:PORT — the gateway's `cisco.baseUrl`; routes are under /ccp/rest/chat */
  readonly baseUrl: string
  readonly chats: () => ReadonlyArray<SimChat>
  /** The newest chat whose extension field `name` has `value` (the gateway puts its session id in one). */
  readonly chatWith: (name: string, value: string) => SimChat | undefined
  /** PresenceEvent joined; default agent name "Sandbox Agent"; the same agent joining again is a no-op. */
  readonly agentJoin: (chatId: string, agentName?: string) => Effect.Effect<void>
  /** A MessageEvent from the agent who joined last. */
  readonly agentSay: (chatId: string, text: string) => Effect.Effect<void>
  readonly agentTyping: (chatId: string, status: "composing" | "paused") => Effect.Effect<void>
  /** The agent leaves: PresenceEvent left (in practice the chat's end). */
  readonly agentLeave: (chatId: string) => Effect.Effect<void>
  /** A StatusEvent, e.g. chat_timedout_waiting_for_agent, chat_finished, chat_issue. */
  readonly status: (chatId: string, status: string, detail?: string) => Effect.Effect<void>
  /** The next n /ccp requests are answered with `status` (an empty body or an apiErrors body). */
  readonly failNext: (n: number, status: 500 | 503) => Effect.Effect<void>
  /** The next n poll answers are truncated/garbled XML (a misbehaving proxy), for the client's malformed-XML handling. */
  readonly garbleNext: (n: number) => Effect.Effect<void>
  /** Every /ccp request: method, path, query, status, the chat (by cookie) if any. */
  readonly requests: () => ReadonlyArray<{ method: string; path: string; query: string; status: number; chatId?: string }>
}

/** A misuse of the scripting interface (unknown chat, chat over, no agent joined). */
export class CiscoSimError extends Data.TaggedError("CiscoSimError")<{ readonly status: number; readonly message: string }> {}

// ---------------------------------------------------------------------------------------
// Java's URLEncoder.encode(s, "UTF-8") (how CCP encodes MessageEvent bodies)

const isUnreserved = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x2d || c === 0x2a || c === 0x5f

const HEX = "0123456789ABCDEF"
const utf8Encoder = new TextEncoder()

/**
 * Exactly `java.net.URLEncoder.encode(s, "UTF-8")`: `a-zA-Z0-9.-*_` unchanged, space `+`,
 * every other character as its UTF-8 bytes `%XX` (upper-case hex); a lone surrogate becomes
 * `%3F` (Java's String.getBytes replaces it with `?`).
 */
export const javaUrlEncode = (s: string): string => {
  let out = ""
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (isUnreserved(c)) out += s[i]
    else if (c === 0x20) out += "+"
    else {
      let char: string
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
        char = s.slice(i, i + 2)
        i++
      } else if (c >= 0xd800 && c <= 0xdfff) char = "?"
      else char = s[i]!
      for (const byte of utf8Encoder.encode(char)) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`
    }
  }
  return out
}

/** The inverse, as a client must decode: `+` -> space first, then percent-decoding. */
export const javaUrlDecode = (s: string): string => decodeURIComponent(s.replaceAll("+", " "))

// ---------------------------------------------------------------------------------------
// XML

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

const orderedBuilder = new XMLBuilder({ preserveOrder: true, ignoreAttributes: false, suppressEmptyNode: true, processEntities: true })

/** What JAXB writes first. */
const declaration = { "?xml": [{ "#text": "" }], ":@": { "@_version": "1.0", "@_encoding": "UTF-8", "@_standalone": "yes" } }

const XML = "application/xml"

const xmlAnswer = (status: number, body: string, headers?: Record<string, string>) =>
  HttpServerResponse.text(body, { status, contentType: XML, ...(headers !== undefined ? { headers } : {}) })

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

const apiErrorsAnswer = (status: number, errors: ReadonlyArray<ApiError>) => xmlAnswer(status, apiErrorsXml(errors))

const fail = (status: number, errors: ReadonlyArray<ApiError>): Effect.Effect<never, Reject> =>
  Effect.fail(new Reject({ response: apiErrorsAnswer(status, errors) }))

const invalidInput = (message: string, data?: string) =>
  fail(400, [{ type: "invalidInput", message, ...(data !== undefined ? { data } : {}) }])

const notFound = (message: string) => fail(404, [{ type: "notFound", message }])

/** Parses an XML document whose root must be `root`; an empty root element is `{}`. 400 invalidInput otherwise. */
const parseXml = (text: string, root: string): Effect.Effect<unknown, Reject> => {
  let parsed: unknown
  try {
    parsed = xmlParser.parse(text, true)
  } catch (e) {
    return invalidInput(`the body is not well-formed XML: ${e instanceof Error ? e.message : String(e)}`)
  }
  const keys = typeof parsed === "object" && parsed !== null ? Object.keys(parsed) : []
  if (keys.length !== 1 || keys[0] !== root)
    return invalidInput(`the body must be one <${root}> element (got ${keys.length === 0 ? "none" : keys.map((k) => `<${k}>`).join(", ")})`)
  const value = (parsed as Record<string, unknown>)[root]
  return Effect.succeed(typeof value === "string" && value.trim() === "" ? {} : value)
}

/** Each schema issue as one apiError naming the field (`author`, `extensionFields.extensionField.0.name`). */
const decodeXml = <A, I>(schema: Schema.Schema<A, I, never>, value: unknown, root: string): Effect.Effect<A, Reject> =>
  Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(value), {
    onRight: Effect.succeed,
    onLeft: (error) =>
      fail(
        400,
        ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
          const path = issue.path.map(String).join(".")
          return path === ""
            ? { type: "invalidInput", message: `<${root}> must contain elements`, data: root }
            : { type: "invalidInput", message: `${path}: ${issue.message}`, data: path }
        })
      )
  })

// ---------------------------------------------------------------------------------------
// Wire shapes (PROVIDERS.md)

const Required = Schema.String.pipe(
  Schema.filter((s) => s.trim() !== "", { message: () => "is required (must not be empty)" })
)

/** `<extensionFields/>` and `<extensionField/>` parse as "" (or whitespace): treat them as empty elements. */
const emptyAsObject = Schema.transform(Schema.Unknown, Schema.Unknown, {
  strict: true,
  decode: (v) => (typeof v === "string" && v.trim() === "" ? {} : v),
  encode: (v) => v
})

const ExtensionField = Schema.compose(emptyAsObject, Schema.Struct({ name: Required, value: Schema.String }), { strict: false })

const SocialContact = Schema.Struct({
  feedRefURL: Required,
  author: Required,
  title: Required,
  extensionFields: Schema.optionalWith(
    Schema.compose(
      emptyAsObject,
      Schema.Struct({ extensionField: Schema.optionalWith(Schema.Array(ExtensionField), { exact: true }) }),
      { strict: false }
    ),
    { exact: true }
  )
})

const MessageBody = Schema.Struct({
  body: Schema.String.pipe(Schema.filter((s) => s !== "", { message: () => "is required (must not be empty)" }))
})

const TypingStatus = Schema.Literal("composing", "paused").annotations({
  message: () => ({ message: "must be composing or paused", override: true })
})

const TypingBody = Schema.Struct({ from: Schema.optionalWith(Schema.String, { exact: true }), status: TypingStatus })

// sandbox bodies
const JoinBody = Schema.Struct({ agentName: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1)), { exact: true }) })
const SayBody = Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1)) })
const SimTypingBody = Schema.Struct({ status: Schema.Literal("composing", "paused") })
const StatusBody = Schema.Struct({ status: Schema.String.pipe(Schema.minLength(1)), detail: Schema.optionalWith(Schema.String, { exact: true }) })
const FailBody = Schema.Struct({ n: Schema.NonNegativeInt, status: Schema.Literal(500, 503) })
const GarbleBody = Schema.Struct({ n: Schema.NonNegativeInt })

// ---------------------------------------------------------------------------------------
// State

type ChatEvent =
  | { readonly kind: "MessageEvent"; readonly id: number; readonly from: string; readonly body: string; readonly byCustomer: boolean }
  | { readonly kind: "PresenceEvent"; readonly id: number; readonly from: string; readonly status: "joined" | "left" }
  | { readonly kind: "TypingEvent"; readonly id: number; readonly from: string; readonly status: "composing" | "paused" }
  | { readonly kind: "StatusEvent"; readonly id: number; readonly status: string; readonly detail: string }

type NewEvent = ChatEvent extends infer E ? (E extends ChatEvent ? Omit<E, "id"> : never) : never

interface ChatState {
  readonly chatId: string
  readonly cookie: string
  readonly feedId: string
  readonly author: string
  readonly title: string
  readonly extensionFields: Record<string, string>
  state: "waiting" | "active" | "ended"
  readonly events: Array<ChatEvent>
  lastEventId: number
  readonly customerMessages: Array<string>
  readonly customerTyping: Array<"composing" | "paused">
  customerLeft: boolean
  deleted: boolean
  polls: number
  /** Agents present, in joining order. */
  readonly agents: Array<string>
  readonly createdAt: number
  /** Customer or agent activity (polls excluded): the inactivity timeout runs from here. */
  lastActivity: number
  /** Any request carrying the cookie: the session expires this long after it. */
  lastRequest: number
  /** When the session died (deleted or expired); undefined while it lives. */
  diedAt: number | undefined
}

const DEFAULT_AGENT = "Sandbox Agent"
const ENDING_STATUSES = new Set(["chat_finished", "chat_finished_error", "chat_timedout_waiting_for_agent", "chat_request_rejected_by_agent"])
const FORGET_DEAD_AFTER_MS = 10 * 60_000
const MAX_REQUESTS_KEPT = 100_000

const hex32 = () => randomBytes(16).toString("hex").toUpperCase()

const snapshot = (c: ChatState): SimChat => ({
  chatId: c.chatId,
  cookie: c.cookie,
  feedId: c.feedId,
  author: c.author,
  title: c.title,
  extensionFields: { ...c.extensionFields },
  state: c.state,
  customerMessages: [...c.customerMessages],
  customerTyping: [...c.customerTyping],
  customerLeft: c.customerLeft,
  deleted: c.deleted,
  polls: c.polls,
  lastEventId: c.lastEventId
})

/** The event as its XML element (children in the order PROVIDERS.md gives). */
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
      return { StatusEvent: [text("id", e.id), text("status", e.status), e.detail === "" ? { detail: [] } : text("detail", e.detail)] }
  }
}

const EMPTY_POLL = orderedBuilder.build([declaration, { chatEvents: [] }])

const chatEventsXml = (events: ReadonlyArray<ChatEvent>): string =>
  events.length === 0 ? EMPTY_POLL : orderedBuilder.build([declaration, { chatEvents: events.map(eventNode) }])

/** Index of the first event whose id is > n (ids ascend). */
const firstAfter = (events: ReadonlyArray<ChatEvent>, n: number): number => {
  let lo = 0
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (events[mid]!.id <= n) lo = mid + 1
    else hi = mid
  }
  return lo
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

// ---------------------------------------------------------------------------------------
// The simulator

export const makeCiscoSim = (options: CiscoSimOptions): Effect.Effect<CiscoSim, never, Scope.Scope> =>
  Effect.gen(function* () {
    const inactivityTimeoutMs = options.inactivityTimeoutMs ?? 300_000
    const joinTimeoutMs = options.joinTimeoutMs ?? 60_000
    const feeds = new Set(options.feeds)

    const byId = new Map<string, ChatState>()
    const byCookie = new Map<string, ChatState>()
    /** Chats whose session lives: what the sweep looks at. */
    const live = new Set<ChatState>()
    /** Dead sessions in the order they died (the oldest first), to forget them after a while. */
    const dead: Array<ChatState> = []
    let requestLog: Array<SimCcpRequest> = []
    let scripted = { remaining: 0, status: 500 as 500 | 503 }
    let garbleRemaining = 0

    // ----- events and timeouts

    const append = (c: ChatState, event: NewEvent) => {
      c.lastEventId += randomInt(1, 4) // ids increase with gaps of 1-3
      c.events.push({ ...event, id: c.lastEventId } as ChatEvent)
    }

    const end = (c: ChatState) => {
      c.state = "ended"
      c.agents.length = 0
    }

    const die = (c: ChatState, at: number) => {
      if (c.state !== "ended") end(c)
      c.diedAt = at
      live.delete(c)
      dead.push(c)
    }

    /** Applies the timeouts due at `t` (the sweep does this for every live chat; requests for theirs first). */
    const settle = (c: ChatState, t: number) => {
      if (c.diedAt !== undefined) return
      if (c.state === "waiting" && joinTimeoutMs > 0 && t - c.createdAt >= joinTimeoutMs) {
        append(c, {
          kind: "StatusEvent",
          status: "chat_timedout_waiting_for_agent",
          detail: `no agent became available within ${Math.round(joinTimeoutMs / 1000)} s`
        })
        end(c)
      }
      if (c.state !== "ended" && t - c.lastActivity >= inactivityTimeoutMs) {
        for (const agent of c.agents) append(c, { kind: "PresenceEvent", from: agent, status: "left" })
        append(c, { kind: "StatusEvent", status: "chat_finished", detail: "inactivity timeout" })
        end(c)
      }
      if (t - c.lastRequest >= inactivityTimeoutMs) die(c, t)
    }

    const sweep = () => {
      const t = Date.now()
      for (const c of live) settle(c, t)
      let forget = 0
      while (forget < dead.length && t - dead[forget]!.diedAt! >= FORGET_DEAD_AFTER_MS) {
        byId.delete(dead[forget]!.chatId)
        byCookie.delete(dead[forget]!.cookie)
        forget++
      }
      if (forget > 0) dead.splice(0, forget)
    }

    const shortest = Math.min(inactivityTimeoutMs, joinTimeoutMs > 0 ? joinTimeoutMs : Infinity)
    const sweepEveryMs = Math.max(10, Math.min(1_000, Math.floor(shortest / 10)))
    yield* Effect.acquireRelease(
      Effect.sync(() => setInterval(sweep, sweepEveryMs).unref()),
      (timer) => Effect.sync(() => clearInterval(timer))
    )

    // ----- the agent side

    const chatFor = (chatId: string) =>
      Effect.suspend(() => {
        const c = byId.get(chatId)
        if (c === undefined) return Effect.fail(new CiscoSimError({ status: 404, message: `cisco sim: no chat ${chatId}` }))
        settle(c, Date.now())
        return Effect.succeed(c)
      })

    const openChat = (chatId: string) =>
      Effect.flatMap(chatFor(chatId), (c) =>
        c.state === "ended"
          ? Effect.fail(new CiscoSimError({ status: 409, message: `cisco sim: chat ${chatId} has ended` }))
          : Effect.succeed(c)
      )

    const currentAgent = (c: ChatState) => {
      const agent = c.agents.at(-1)
      return agent === undefined
        ? Effect.fail(new CiscoSimError({ status: 409, message: `cisco sim: no agent has joined chat ${c.chatId}` }))
        : Effect.succeed(agent)
    }

    const join = (chatId: string, agentName = DEFAULT_AGENT) =>
      Effect.map(openChat(chatId), (c) => {
        if (c.agents.includes(agentName)) return
        c.agents.push(agentName)
        c.state = "active"
        c.lastActivity = Date.now()
        append(c, { kind: "PresenceEvent", from: agentName, status: "joined" })
      })

    const say = (chatId: string, text: string) =>
      Effect.gen(function* () {
        const c = yield* openChat(chatId)
        const agent = yield* currentAgent(c)
        c.lastActivity = Date.now()
        append(c, { kind: "MessageEvent", from: agent, body: text, byCustomer: false })
      })

    const typing = (chatId: string, status: "composing" | "paused") =>
      Effect.gen(function* () {
        const c = yield* openChat(chatId)
        const agent = yield* currentAgent(c)
        c.lastActivity = Date.now()
        append(c, { kind: "TypingEvent", from: agent, status })
      })

    const leave = (chatId: string) =>
      Effect.gen(function* () {
        const c = yield* openChat(chatId)
        const agent = yield* currentAgent(c)
        c.lastActivity = Date.now()
        append(c, { kind: "PresenceEvent", from: agent, status: "left" })
        end(c)
      })

    const postStatus = (chatId: string, status: string, detail = "") =>
      Effect.flatMap(chatFor(chatId), (c) => {
        if (c.diedAt !== undefined)
          return Effect.fail(new CiscoSimError({ status: 409, message: `cisco sim: the session of chat ${chatId} is gone` }))
        append(c, { kind: "StatusEvent", status, detail })
        if (ENDING_STATUSES.has(status)) end(c)
        return Effect.void
      })

    // ----- customer routes

    /** The chat of the request's JSESSIONID cookie: 404 notFound when missing, unknown, deleted or expired. */
    const session = Effect.flatMap(request, (req) => {
      const cookie = req.cookies["JSESSIONID"]
      if (cookie === undefined || cookie === "") return notFound("no chat session: the JSESSIONID cookie is missing")
      const c = byCookie.get(cookie)
      if (c === undefined) return notFound("no chat session for this JSESSIONID")
      const t = Date.now()
      settle(c, t)
      if (c.diedAt !== undefined) return notFound(c.deleted ? "the chat session was deleted" : "the chat session has expired")
      c.lastRequest = t
      return Effect.succeed(c)
    })

    /** application/xml (parameters allowed), then the body as UTF-8 text. */
    const xmlBody = Effect.gen(function* () {
      const req = yield* request
      const type = req.headers["content-type"] ?? ""
      if (!/^application\/xml\s*(;|$)/i.test(type.trim()))
        return yield* invalidInput(`Content-Type must be application/xml (got ${type === "" ? "none" : type})`, "Content-Type")
      const raw = yield* req.arrayBuffer.pipe(Effect.catchAll(() => invalidInput("the request body could not be read")))
      try {
        return utf8.decode(raw)
      } catch {
        return yield* invalidInput("the body is not valid UTF-8")
      }
    })

    const ccp = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>) =>
      handle(
        Effect.gen(function* () {
          if (options.apiKey !== undefined) {
            const key = (yield* request).headers["x-api-key"]
            if (key !== options.apiKey)
              return yield* fail(401, [
                { type: "unauthorized", message: key === undefined ? "the X-API-Key header is missing" : "invalid X-API-Key" }
              ])
          }
          if (scripted.remaining > 0) {
            scripted.remaining -= 1
            return yield* Effect.fail(
              new Reject({
                response:
                  scripted.status === 503
                    ? HttpServerResponse.empty({ status: 503 })
                    : apiErrorsAnswer(500, [{ type: "internalServerError", message: "cisco sim: scripted 500 (failNext)" }])
              })
            )
          }
          return yield* handler
        })
      )

    const ok = () => HttpServerResponse.empty({ status: 200 })

    const feedIdOf = (url: string): string | undefined => {
      try {
        const match = /^\/ccp-webapp\/ccp\/feed\/([^/]+)\/?$/.exec(new URL(url.trim()).pathname)
        return match === null ? undefined : decodeURIComponent(match[1]!)
      } catch {
        return undefined
      }
    }

    const create = ccp(
      Effect.gen(function* () {
        const text = yield* xmlBody
        const body = yield* decodeXml(SocialContact, yield* parseXml(text, "SocialContact"), "SocialContact")
        const feedId = feedIdOf(body.feedRefURL)
        if (feedId === undefined)
          return yield* invalidInput(
            `feedRefURL: must be https://{host}/ccp-webapp/ccp/feed/{feedId} (got ${body.feedRefURL})`,
            "feedRefURL"
          )
        if (!feeds.has(feedId)) return yield* invalidInput(`feedRefURL: unknown feed ${feedId}`, "feedRefURL")
        const extensionFields: Record<string, string> = {}
        for (const f of body.extensionFields?.extensionField ?? []) extensionFields[f.name] = f.value
        const t = Date.now()
        const c: ChatState = {
          chatId: hex32(),
          cookie: hex32(),
          feedId,
          author: body.author,
          title: body.title,
          extensionFields,
          state: "waiting",
          events: [],
          lastEventId: 0,
          customerMessages: [],
          customerTyping: [],
          customerLeft: false,
          deleted: false,
          polls: 0,
          agents: [],
          createdAt: t,
          lastActivity: t,
          lastRequest: t,
          diedAt: undefined
        }
        append(c, { kind: "StatusEvent", status: "chat_ok", detail: "" })
        byId.set(c.chatId, c)
        byCookie.set(c.cookie, c)
        live.add(c)
        yield* Effect.logDebug(
          `cisco sim <- new chat ${c.chatId} on feed ${feedId} from ${c.author}; ` +
            `drive the agent with POST ${baseUrl}/sim/chats/${c.chatId}/join|say|typing|leave|status`
        )
        return HttpServerResponse.empty({
          status: 201,
          headers: {
            location: `${baseUrl}/ccp-webapp/ccp/socialcontact/${c.chatId}`,
            "set-cookie": `JSESSIONID=${c.cookie}; Path=/ccp; HttpOnly`
          }
        })
      })
    )

    const poll = ccp(
      Effect.gen(function* () {
        const c = yield* session
        const params = new URL((yield* request).url, "http://sim.invalid").searchParams
        const eventid = params.get("eventid")
        if (eventid === null) return yield* invalidInput("eventid: is missing (start at 0)", "eventid")
        if (!/^\d{1,15}$/.test(eventid)) return yield* invalidInput(`eventid: must be a non-negative integer (got ${eventid})`, "eventid")
        const all = (params.get("all") ?? "false").toLowerCase() // Java's Boolean parsing ignores case
        if (all !== "true" && all !== "false") return yield* invalidInput(`all: must be true or false (got ${params.get("all")})`, "all")
        c.polls += 1
        const after = c.events.slice(firstAfter(c.events, Number(eventid)))
        const events = all === "true" ? after : after.filter((e) => !(e.kind === "MessageEvent" && e.byCustomer))
        const xml = chatEventsXml(events)
        if (garbleRemaining > 0) {
          garbleRemaining -= 1
          return xmlAnswer(200, xml.slice(0, Math.max(1, Math.floor(xml.length / 2)))) // the root never closes
        }
        return xmlAnswer(200, xml)
      })
    )

    /** The session, then 400 when the chat can no longer take customer input. */
    const openSession = Effect.flatMap(session, (c) =>
      c.state === "ended"
        ? invalidInput(c.customerLeft ? "the customer has left this chat" : "the chat has ended")
        : Effect.succeed(c)
    )

    const send = ccp(
      Effect.gen(function* () {
        const c = yield* openSession
        const body = yield* decodeXml(MessageBody, yield* parseXml(yield* xmlBody, "Message"), "Message")
        c.lastActivity = Date.now()
        c.customerMessages.push(body.body)
        append(c, { kind: "MessageEvent", from: c.author, body: body.body, byCustomer: true })
        return ok()
      })
    )

    const customerTyping = ccp(
      Effect.gen(function* () {
        const c = yield* openSession
        const body = yield* decodeXml(TypingBody, yield* parseXml(yield* xmlBody, "TypingEvent"), "TypingEvent")
        c.lastActivity = Date.now()
        c.customerTyping.push(body.status)
        append(c, { kind: "TypingEvent", from: c.author, status: body.status })
        return ok()
      })
    )

    const leaveChat = ccp(
      Effect.map(session, (c) => {
        if (!c.customerLeft) {
          c.customerLeft = true
          c.lastActivity = Date.now()
          append(c, { kind: "PresenceEvent", from: c.author, status: "left" })
          end(c)
        }
        return ok()
      })
    )

    const deleteChat = ccp(
      Effect.map(session, (c) => {
        c.deleted = true
        die(c, Date.now())
        return ok()
      })
    )

    // ----- sandbox routes

    const simAnswer = (effect: Effect.Effect<void, CiscoSimError>) =>
      Effect.match(effect, {
        onSuccess: () => HttpServerResponse.empty({ status: 204 }),
        onFailure: (e) => json(e.status, { error: e.status === 404 ? "NotFound" : "Conflict", message: e.message })
      })

    const sandboxBody = <A, I>(schema: Schema.Schema<A, I, never>) =>
      Effect.gen(function* () {
        const raw = new Uint8Array(yield* Effect.orDie((yield* request).arrayBuffer))
        return yield* decodeValue(schema, yield* parseJson(raw, {})) // curl -d sends a form type: JSON regardless
      })

    const simAgentAction = handle(
      Effect.gen(function* () {
        const chatId = yield* param("chatId")
        const action = yield* param("action")
        switch (action) {
          case "join":
            return yield* simAnswer(join(chatId, (yield* sandboxBody(JoinBody)).agentName))
          case "say":
            return yield* simAnswer(say(chatId, (yield* sandboxBody(SayBody)).text))
          case "typing":
            return yield* simAnswer(typing(chatId, (yield* sandboxBody(SimTypingBody)).status))
          case "leave":
            return yield* simAnswer(leave(chatId))
          case "status": {
            const body = yield* sandboxBody(StatusBody)
            return yield* simAnswer(postStatus(chatId, body.status, body.detail))
          }
          default:
            return json(404, { error: "NotFound", message: `unknown agent action ${action} (join|say|typing|leave|status)` })
        }
      })
    )

    const allChats = () => [...byId.values()].map(snapshot)

    const routes = (base: string) => [
      HttpRouter.post(base as HttpRouter.PathInput, create),
      HttpRouter.get(base as HttpRouter.PathInput, poll),
      HttpRouter.put(base as HttpRouter.PathInput, send),
      HttpRouter.del(base as HttpRouter.PathInput, deleteChat),
      HttpRouter.put(`${base}/event` as HttpRouter.PathInput, customerTyping),
      HttpRouter.put(`${base}/leaveChat` as HttpRouter.PathInput, leaveChat)
    ]
    const router = [...routes("/ccp/rest/chat"), ...routes("/ccp/chat")].reduce(
      (r, add) => add(r),
      HttpRouter.empty.pipe(
        HttpRouter.get("/sim/chats", Effect.sync(() => json(200, allChats()))),
        HttpRouter.post("/sim/chats/:chatId/:action", simAgentAction),
        HttpRouter.post(
          "/sim/fail",
          handle(
            Effect.map(sandboxBody(FailBody), (b) => {
              scripted = { remaining: b.n, status: b.status }
              return HttpServerResponse.empty({ status: 204 })
            })
          )
        ),
        HttpRouter.post(
          "/sim/garble",
          handle(
            Effect.map(sandboxBody(GarbleBody), (b) => {
              garbleRemaining = b.n
              return HttpServerResponse.empty({ status: 204 })
            })
          )
        ),
        HttpRouter.get("/sim/requests", Effect.sync(() => json(200, requestLog)))
      )
    )

    const record = (entry: SimCcpRequest) => {
      requestLog.push(entry)
      if (requestLog.length > 2 * MAX_REQUESTS_KEPT) requestLog = requestLog.slice(-MAX_REQUESTS_KEPT)
    }

    const app = recordCcpRequests(record, (cookie) => (cookie === undefined ? undefined : byCookie.get(cookie)?.chatId))(
      withCcpFallbacks(router)
    )

    const server = yield* NodeHttpServer.make(() => createServer(), { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    const baseUrl = `http://127.0.0.1:${(server.address as HttpServer.TcpAddress).port}`
    yield* server.serve(app)

    const trimmedLog = () => (requestLog.length > MAX_REQUESTS_KEPT ? requestLog.slice(-MAX_REQUESTS_KEPT) : [...requestLog])

    return {
      baseUrl,
      chats: allChats,
      chatWith: (name, value) => {
        let newest: ChatState | undefined
        for (const c of byId.values()) if (c.extensionFields[name] === value) newest = c // insertion order: the last is the newest
        return newest === undefined ? undefined : snapshot(newest)
      },
      agentJoin: (chatId, agentName) => Effect.orDie(join(chatId, agentName)),
      agentSay: (chatId, text) => Effect.orDie(say(chatId, text)),
      agentTyping: (chatId, status) => Effect.orDie(typing(chatId, status)),
      agentLeave: (chatId) => Effect.orDie(leave(chatId)),
      status: (chatId, status, detail) => Effect.orDie(postStatus(chatId, status, detail)),
      failNext: (n, status) =>
        Effect.sync(() => {
          scripted = { remaining: Math.max(0, Math.floor(n)), status }
        }),
      garbleNext: (n) =>
        Effect.sync(() => {
          garbleRemaining = Math.max(0, Math.floor(n))
        }),
      requests: trimmedLog
    } satisfies CiscoSim
  })

// ---------------------------------------------------------------------------------------
// Serving

/** Records every /ccp request with the status it got (after the fallbacks, so 404s count too). */
const recordCcpRequests =
  (record: (entry: SimCcpRequest) => void, chatOf: (cookie: string | undefined) => string | undefined) =>
  <E, R>(app: HttpApp.Default<E, R>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) =>
      Effect.tap(app, (response) =>
        Effect.sync(() => {
          const q = req.url.indexOf("?")
          const path = q < 0 ? req.url : req.url.slice(0, q)
          if (!path.startsWith("/ccp/") && path !== "/ccp") return
          const chatId = chatOf(req.cookies["JSESSIONID"])
          record({
            method: req.method,
            path,
            query: q < 0 ? "" : req.url.slice(q + 1),
            status: response.status,
            ...(chatId !== undefined ? { chatId } : {})
          })
        })
      )
    )

/** Unknown routes answer 404 apiErrors notFound; a defect 500 apiErrors. */
const withCcpFallbacks = <E, R>(app: HttpApp.Default<E, R>) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "RouteNotFound")
      return Effect.succeed(apiErrorsAnswer(404, [{ type: "notFound", message: "no such resource" }]))
    return Effect.as(
      Effect.logWarning("cisco sim handler failed", cause),
      apiErrorsAnswer(500, [{ type: "internalServerError", message: Cause.pretty(cause).split("\n")[0] ?? "internal error" }])
    )
  })
