/**
 * CCP's customer routes: the chat identified by its JSESSIONID cookie alone, XML bodies, an
 * optional X-API-Key, scripted 5xx answers and garbled polls.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import type { Schema } from "effect"
import { Effect, Option } from "effect"
import { handle, Reject } from "../http/answers.js"
import { decode, readBody } from "../http/body.js"
import { request } from "../http/requests.js"
import { append, type ChatState, type CiscoState, die, end, firstAfter, hex32, settle } from "./state.js"
import type { CiscoSimOptions } from "./types.js"
import { MessageBody, SocialContact, TypingBody } from "./wire.js"
import {
  apiErrorsAnswer,
  bodyRefusals,
  ccpRefusals,
  chatEventsXml,
  fail,
  invalidInput,
  notFound,
  parseXml,
  xmlAnswer
} from "./xml.js"

const utf8 = new TextDecoder("utf-8", { fatal: true })

const ok = () => HttpServerResponse.empty({ status: 200 })

const feedIdOf = (url: string): string | undefined => {
  try {
    const match = /^\/ccp-webapp\/ccp\/feed\/([^/]+)\/?$/.exec(new URL(url.trim()).pathname)
    return match === null ? undefined : decodeURIComponent(match[1]!)
  } catch {
    return undefined
  }
}

/** application/xml (parameters allowed), then the body as UTF-8 text. */
const xmlBody = Effect.gen(function*() {
  const type = (yield* request).headers["content-type"] ?? ""
  if (!/^application\/xml\s*(;|$)/i.test(type.trim())) {
    return yield* invalidInput(
      `Content-Type must be application/xml (got ${type === "" ? "none" : type})`,
      "Content-Type"
    )
  }
  const raw = yield* readBody(ccpRefusals)
  try {
    return utf8.decode(raw)
  } catch {
    return yield* invalidInput("the body is not valid UTF-8")
  }
})

/** The body: one `<root>` element decoded by `schema`. */
const decodeXmlBody = <A, I>(schema: Schema.Schema<A, I, never>, root: string) =>
  Effect.flatMap(
    xmlBody,
    (text) => Effect.flatMap(parseXml(text, root), (value) => decode(bodyRefusals(root), schema, value))
  )

export const customerRoutes = (state: CiscoState, options: CiscoSimOptions, baseUrl: string) => {
  /** The chat of the request's JSESSIONID cookie: 404 notFound when missing, unknown, deleted or expired. */
  const session = Effect.flatMap(request, (req) => {
    const cookie = req.cookies["JSESSIONID"]
    if (cookie === undefined || cookie === "") return notFound("no chat session: the JSESSIONID cookie is missing")
    const c = state.byCookie.get(cookie)
    if (c === undefined) return notFound("no chat session for this JSESSIONID")
    const t = Date.now()
    settle(state, c, t)
    if (c.diedAt !== undefined) {
      return notFound(c.deleted ? "the chat session was deleted" : "the chat session has expired")
    }
    c.lastRequest = t
    return Effect.succeed(c)
  })

  /** The session, then 400 when the chat can no longer take customer input. */
  const openSession = Effect.flatMap(
    session,
    (c) =>
      c.state === "ended"
        ? invalidInput(c.customerLeft ? "the customer has left this chat" : "the chat has ended")
        : Effect.succeed(c)
  )

  /** A /ccp route: the API key when one is set, then a scripted failure (failNext), then the handler. */
  const ccp = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>) =>
    handle(
      Effect.gen(function*() {
        if (options.apiKey !== undefined) {
          const key = (yield* request).headers["x-api-key"]
          if (key !== options.apiKey) {
            return yield* fail(401, [{
              type: "unauthorized",
              message: key === undefined ? "the X-API-Key header is missing" : "invalid X-API-Key"
            }])
          }
        }
        const failure = state.failures.take()
        if (Option.isSome(failure)) {
          return yield* Effect.fail(
            new Reject({
              response: failure.value === 503
                ? HttpServerResponse.empty({ status: 503 })
                : apiErrorsAnswer(500, [{ type: "internalServerError", message: "cisco sim: scripted 500 (failNext)" }])
            })
          )
        }
        return yield* handler
      })
    )

  const create = ccp(
    Effect.gen(function*() {
      const body = yield* decodeXmlBody(SocialContact, "SocialContact")
      const feedId = feedIdOf(body.feedRefURL)
      if (feedId === undefined) {
        return yield* invalidInput(
          `feedRefURL: must be https://{host}/ccp-webapp/ccp/feed/{feedId} (got ${body.feedRefURL})`,
          "feedRefURL"
        )
      }
      if (!state.feeds.has(feedId)) return yield* invalidInput(`feedRefURL: unknown feed ${feedId}`, "feedRefURL")
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
      state.byId.set(c.chatId, c)
      state.byCookie.set(c.cookie, c)
      state.live.add(c)
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
    Effect.gen(function*() {
      const c = yield* session
      const params = new URL((yield* request).url, "http://sim.invalid").searchParams
      const eventid = params.get("eventid")
      if (eventid === null) return yield* invalidInput("eventid: is missing (start at 0)", "eventid")
      if (!/^\d{1,15}$/.test(eventid)) {
        return yield* invalidInput(`eventid: must be a non-negative integer (got ${eventid})`, "eventid")
      }
      const all = (params.get("all") ?? "false").toLowerCase() // Java's Boolean parsing ignores case
      if (all !== "true" && all !== "false") {
        return yield* invalidInput(`all: must be true or false (got ${params.get("all")})`, "all")
      }
      c.polls += 1
      const after = c.events.slice(firstAfter(c.events, Number(eventid)))
      const events = all === "true" ? after : after.filter((e) => !(e.kind === "MessageEvent" && e.byCustomer))
      const xml = chatEventsXml(events)
      if (Option.isSome(state.garbles.take())) {
        return xmlAnswer(200, xml.slice(0, Math.max(1, Math.floor(xml.length / 2)))) // the root never closes
      }
      return xmlAnswer(200, xml)
    })
  )

  const send = ccp(
    Effect.gen(function*() {
      const c = yield* openSession
      const body = yield* decodeXmlBody(MessageBody, "Message")
      c.lastActivity = Date.now()
      c.customerMessages.push(body.body)
      append(c, { kind: "MessageEvent", from: c.author, body: body.body, byCustomer: true })
      return ok()
    })
  )

  const customerTyping = ccp(
    Effect.gen(function*() {
      const c = yield* openSession
      const body = yield* decodeXmlBody(TypingBody, "TypingEvent")
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
      die(state, c, Date.now())
      return ok()
    })
  )

  const routes = (base: string) => [
    HttpRouter.post(base as HttpRouter.PathInput, create),
    HttpRouter.get(base as HttpRouter.PathInput, poll),
    HttpRouter.put(base as HttpRouter.PathInput, send),
    HttpRouter.del(base as HttpRouter.PathInput, deleteChat),
    HttpRouter.put(`${base}/event` as HttpRouter.PathInput, customerTyping),
    HttpRouter.put(`${base}/leaveChat` as HttpRouter.PathInput, leaveChat)
  ]
  return [...routes("/ccp/rest/chat"), ...routes("/ccp/chat")].reduce((router, add) => add(router), HttpRouter.empty)
}
