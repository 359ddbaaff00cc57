import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser"
import { type CiscoSimOptions, javaUrlDecode, javaUrlEncode, makeCiscoSim } from "../../sandbox/cisco/index.js"

// ---------------------------------------------------------------------------------------
// helpers

const FEED = "100000"
const BASE = "/ccp/rest/chat"

interface XmlAnswer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
}

/** One request; `cookie` is the JSESSIONID value; a string body is sent as application/xml unless a content-type is given. */
const ccp = (
  url: string,
  init: { method?: string; cookie?: string; body?: string; headers?: Record<string, string> } = {}
): Effect.Effect<XmlAnswer> =>
  Effect.promise(async () => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.cookie !== undefined) headers["cookie"] = `JSESSIONID=${init.cookie}`
    if (init.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/xml"
    }
    const response = await fetch(url, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      ...(init.body !== undefined ? { body: init.body } : {})
    })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

const builder = new XMLBuilder({})
const xml = (root: string, value: unknown) => builder.build({ [root]: value }) as string

const socialContact = (
  extra: Record<string, unknown> = {},
  feedRefURL = `https://ccp.example.com/ccp-webapp/ccp/feed/${FEED}`
) =>
  xml("SocialContact", {
    feedRefURL,
    author: "Ann Customer",
    title: "Help with my order",
    extensionFields: {
      extensionField: [
        { name: "ccxqueuetag", value: "Chat_Csq5" },
        { name: "sessionId", value: "sess-1" }
      ]
    },
    ...extra
  })

const parser = new XMLParser({ parseTagValue: false, trimValues: false, ignoreDeclaration: true })
const orderedParser = new XMLParser({
  preserveOrder: true,
  parseTagValue: false,
  trimValues: false,
  ignoreDeclaration: true
})

interface Ev {
  readonly type: string
  readonly id: number
  readonly from?: string
  readonly body?: string
  readonly status?: string
  readonly detail?: string
}

/** The events of a `<chatEvents>` answer, in document order. */
const eventsOf = (text: string): Array<Ev> => {
  expect(XMLValidator.validate(text)).toBe(true)
  const doc = orderedParser.parse(text) as Array<Record<string, Array<Record<string, Array<{ "#text"?: string }>>>>>
  const root = doc.find((n) => "chatEvents" in n)
  expect(root).toBeDefined()
  return root!["chatEvents"]!.map((node) => {
    const type = Object.keys(node)[0]!
    const fields: Record<string, string> = {}
    for (const child of node[type] as unknown as Array<Record<string, Array<{ "#text"?: string }>>>) {
      const name = Object.keys(child)[0]!
      fields[name] = child[name]![0]?.["#text"] ?? ""
    }
    return { type, ...fields, id: Number(fields["id"]) } as Ev
  })
}

const apiErrorsOf = (text: string): Array<{ errorType: string; errorMessage: string; errorData?: string }> => {
  const parsed = parser.parse(text) as { apiErrors?: { apiError: unknown } }
  expect(parsed.apiErrors).toBeDefined()
  const e = parsed.apiErrors!.apiError
  return (Array.isArray(e) ? e : [e]) as Array<{ errorType: string; errorMessage: string; errorData?: string }>
}

const expectApiError = (answer: XmlAnswer, status: number, errorType: string, mentions?: string) => {
  expect(answer.status).toBe(status)
  expect(answer.headers.get("content-type")).toMatch(/^application\/xml/)
  const errors = apiErrorsOf(answer.text)
  expect(errors.map((e) => e.errorType)).toContain(errorType)
  if (mentions !== undefined) {
    expect(errors.map((e) => `${e.errorMessage} ${e.errorData ?? ""}`).join(" | ")).toContain(mentions)
  }
}

const options = (extra: Partial<CiscoSimOptions> = {}): CiscoSimOptions => ({ feeds: [FEED, "200000"], ...extra })

/** Creates a chat: the answer, the cookie and the chat id from Location. */
const createChat = (baseUrl: string, body = socialContact(), headers: Record<string, string> = {}, base = BASE) =>
  Effect.gen(function*() {
    const answer = yield* ccp(`${baseUrl}${base}`, { body, headers })
    expect(answer.status).toBe(201)
    const cookie = /^JSESSIONID=([^;]+);/.exec(answer.headers.get("set-cookie") ?? "")?.[1]
    const chatId = /\/socialcontact\/([0-9A-Fa-f]{32})$/.exec(answer.headers.get("location") ?? "")?.[1]
    expect(cookie).toBeDefined()
    expect(chatId).toBeDefined()
    return { answer, cookie: cookie!, chatId: chatId! }
  })

const poll = (baseUrl: string, cookie: string, eventid: number, all?: boolean, base = BASE) =>
  ccp(`${baseUrl}${base}?eventid=${eventid}${all === undefined ? "" : `&all=${all}`}`, { cookie })

const pollEvents = (baseUrl: string, cookie: string, eventid = 0, all?: boolean) =>
  Effect.map(poll(baseUrl, cookie, eventid, all), (a) => {
    expect(a.status).toBe(200)
    expect(a.headers.get("content-type")).toMatch(/^application\/xml/)
    return eventsOf(a.text)
  })

const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

// ---------------------------------------------------------------------------------------

describe("Java URLEncoder form-encoding", () => {
  it("matches URLEncoder.encode(s, UTF-8)", () => {
    expect(javaUrlEncode("hello world")).toBe("hello+world")
    expect(javaUrlEncode("a+b=c&d")).toBe("a%2Bb%3Dc%26d")
    expect(javaUrlEncode("<b>\"q\"'")).toBe("%3Cb%3E%22q%22%27")
    expect(javaUrlEncode("keep.-*_ AZaz09")).toBe("keep.-*_+AZaz09")
    expect(javaUrlEncode("~!()%/?#")).toBe("%7E%21%28%29%25%2F%3F%23")
    expect(javaUrlEncode("Καλημέρα ✓")).toBe("%CE%9A%CE%B1%CE%BB%CE%B7%CE%BC%CE%AD%CF%81%CE%B1+%E2%9C%93")
    expect(javaUrlEncode("😀")).toBe("%F0%9F%98%80")
    expect(javaUrlEncode("line\nnext\ttab")).toBe("line%0Anext%09tab")
    expect(javaUrlEncode("lone \uD83D end")).toBe("lone+%3F+end")
    expect(javaUrlEncode("")).toBe("")
    for (const s of ["a b+c %2B", "Καλημέρα ✓", "😀 & <x>", "100% sure?"]) {
      expect(javaUrlDecode(javaUrlEncode(s))).toBe(s)
    }
  })
})

describe("Cisco CCP simulator: create", () => {
  it.scopedLive("201 with an empty body, Location and a JSESSIONID cookie; the chat is recorded", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { answer, cookie, chatId } = yield* createChat(sim.baseUrl)
      expect(answer.text).toBe("")
      expect(answer.headers.get("location")).toBe(`${sim.baseUrl}/ccp-webapp/ccp/socialcontact/${chatId}`)
      expect(chatId).toMatch(/^[0-9A-F]{32}$/)
      expect(answer.headers.get("set-cookie")).toBe(`JSESSIONID=${cookie}; Path=/ccp; HttpOnly`)
      const chat = sim.chatWith("sessionId", "sess-1")
      expect(chat).toMatchObject({
        chatId,
        cookie,
        feedId: FEED,
        author: "Ann Customer",
        title: "Help with my order",
        extensionFields: { ccxqueuetag: "Chat_Csq5", sessionId: "sess-1" },
        state: "waiting",
        customerMessages: [],
        customerLeft: false,
        deleted: false,
        polls: 0
      })
      expect(sim.chats()).toHaveLength(1)
      expect(sim.chatWith("sessionId", "nope")).toBeUndefined()

      // the older base, another feed, no extension fields, XML-escaped author
      const older = yield* createChat(
        sim.baseUrl,
        xml("SocialContact", {
          feedRefURL: `http://other-host:8080/ccp-webapp/ccp/feed/200000`,
          author: "Bob & <Co>",
          title: "t"
        }),
        {},
        "/ccp/chat"
      )
      const second = sim.chats().find((c) => c.chatId === older.chatId)!
      expect(second).toMatchObject({ feedId: "200000", author: "Bob & <Co>", extensionFields: {} })
      expect(older.cookie).not.toBe(cookie)
      // chatWith answers the newest chat with that field
      const third = yield* createChat(sim.baseUrl)
      expect(sim.chatWith("sessionId", "sess-1")?.chatId).toBe(third.chatId)
    }))

  it.scopedLive("400 invalidInput: missing author, blank title, malformed XML, unknown feed, wrong root, wrong content type", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const url = `${sim.baseUrl}${BASE}`
      const noAuthor = xml("SocialContact", { feedRefURL: `https://h/ccp-webapp/ccp/feed/${FEED}`, title: "t" })
      expectApiError(yield* ccp(url, { body: noAuthor }), 400, "invalidInput", "author")
      const blankTitle = xml("SocialContact", {
        feedRefURL: `https://h/ccp-webapp/ccp/feed/${FEED}`,
        author: "a",
        title: "  "
      })
      expectApiError(yield* ccp(url, { body: blankTitle }), 400, "invalidInput", "title")
      const missingBoth = apiErrorsOf((yield* ccp(url, { body: "<SocialContact/>" })).text)
      expect(missingBoth.map((e) => e.errorData).sort()).toEqual(["author", "feedRefURL", "title"])
      expectApiError(yield* ccp(url, { body: "<SocialContact><author>a</author>" }), 400, "invalidInput", "well-formed")
      expectApiError(yield* ccp(url, { body: "not xml at all" }), 400, "invalidInput")
      expectApiError(yield* ccp(url, { body: "" }), 400, "invalidInput")
      expectApiError(
        yield* ccp(url, { body: socialContact({}, "https://h/ccp-webapp/ccp/feed/999") }),
        400,
        "invalidInput",
        "unknown feed 999"
      )
      expectApiError(yield* ccp(url, { body: socialContact({}, "not a url") }), 400, "invalidInput", "feedRefURL")
      expectApiError(yield* ccp(url, { body: xml("Message", { body: "hi" }) }), 400, "invalidInput", "SocialContact")
      expectApiError(
        yield* ccp(url, { body: socialContact({ extensionFields: { extensionField: [{ value: "x" }] } }) }),
        400,
        "invalidInput",
        "extensionFields.extensionField.0.name"
      )
      expectApiError(
        yield* ccp(url, { body: socialContact(), headers: { "content-type": "text/plain" } }),
        400,
        "invalidInput",
        "Content-Type"
      )
      expectApiError(
        yield* ccp(url, { body: socialContact(), headers: { "content-type": "application/json" } }),
        400,
        "invalidInput",
        "Content-Type"
      )
      // a charset parameter is fine
      const withCharset = yield* ccp(url, {
        body: socialContact(),
        headers: { "content-type": "application/xml; charset=UTF-8" }
      })
      expect(withCharset.status).toBe(201)
      expect(sim.chats()).toHaveLength(1)
    }))
})

describe("Cisco CCP simulator: the session cookie", () => {
  it.scopedLive("404 notFound apiErrors without a cookie, with an unknown one, on every route", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const url = `${sim.baseUrl}${BASE}`
      const message = xml("Message", { body: "hi" })
      const typing = xml("TypingEvent", { from: "Ann", status: "composing" })
      for (const cookie of [undefined, "0123456789ABCDEF0123456789ABCDEF"]) {
        const c = cookie !== undefined ? { cookie } : {}
        expectApiError(yield* ccp(`${url}?eventid=0&all=false`, c), 404, "notFound")
        expectApiError(yield* ccp(url, { ...c, method: "PUT", body: message }), 404, "notFound")
        expectApiError(yield* ccp(`${url}/event`, { ...c, method: "PUT", body: typing }), 404, "notFound")
        expectApiError(yield* ccp(`${url}/leaveChat`, { ...c, method: "PUT" }), 404, "notFound")
        expectApiError(yield* ccp(url, { ...c, method: "DELETE" }), 404, "notFound")
      }
      // an unknown resource under /ccp is notFound too
      expectApiError(yield* ccp(`${sim.baseUrl}/ccp/rest/nothing`), 404, "notFound")
    }))
})

describe("Cisco CCP simulator: polling", () => {
  it.scopedLive("events after eventid in id order, with gaps, mixed types; the same eventid reads the same; empty is <chatEvents/>", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      yield* sim.agentJoin(chatId, "Agent Smith")
      yield* sim.agentSay(chatId, "Hello, how can I help?")
      yield* sim.agentTyping(chatId, "composing")
      yield* sim.status(chatId, "chat_issue", "a hiccup")

      const first = yield* poll(sim.baseUrl, cookie, 0, false)
      expect(first.status).toBe(200)
      expect(first.headers.get("content-type")).toMatch(/^application\/xml/)
      const events = eventsOf(first.text)
      expect(events.map((e) => e.type)).toEqual([
        "StatusEvent",
        "PresenceEvent",
        "MessageEvent",
        "TypingEvent",
        "StatusEvent"
      ])
      expect(events[0]).toMatchObject({ status: "chat_ok" })
      expect(events[1]).toMatchObject({ from: "Agent Smith", status: "joined" })
      expect(events[2]).toMatchObject({ from: "Agent Smith", body: "Hello%2C+how+can+I+help%3F" })
      expect(events[3]).toMatchObject({ from: "Agent Smith", status: "composing" })
      expect(events[4]).toMatchObject({ status: "chat_issue", detail: "a hiccup" })
      // element order inside each event is id, from, body|status (StatusEvent: id, status, detail)
      const ordered = orderedParser.parse(first.text) as Array<Record<string, Array<Record<string, unknown>>>>
      const nodes = ordered.find((n) => "chatEvents" in n)!["chatEvents"]!
      expect(nodes.map((n) => (Object.values(n)[0] as Array<Record<string, unknown>>).map((c) => Object.keys(c)[0])))
        .toEqual([
          ["id", "status", "detail"],
          ["id", "from", "status"],
          ["id", "from", "body"],
          ["id", "from", "status"],
          ["id", "status", "detail"]
        ])
      const ids = events.map((e) => e.id)
      for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!)
      expect(ids.at(-1)).toBe(sim.chats()[0]!.lastEventId)

      // re-reading with the same eventid returns the same events
      expect((yield* poll(sim.baseUrl, cookie, 0, false)).text).toBe(first.text)
      // from the middle
      const later = yield* pollEvents(sim.baseUrl, cookie, ids[2]!, false)
      expect(later.map((e) => e.id)).toEqual(ids.slice(3))
      // nothing new: <chatEvents/>
      const empty = yield* poll(sim.baseUrl, cookie, ids.at(-1)!, false)
      expect(empty.status).toBe(200)
      expect(empty.text).toMatch(/<chatEvents\/>$/)
      expect(eventsOf(empty.text)).toEqual([])
      // without all= (Cisco's sample client) and with a trailing slash, and on the older base
      expect(eventsOf((yield* ccp(`${sim.baseUrl}${BASE}/?eventid=0`, { cookie })).text)).toHaveLength(5)
      expect(eventsOf((yield* poll(sim.baseUrl, cookie, 0, false, "/ccp/chat")).text)).toHaveLength(5)
      expect(sim.chats()[0]!.polls).toBe(6)
      expect(sim.chats()[0]!.state).toBe("active")

      // ids increase with gaps
      for (let i = 0; i < 30; i++) yield* sim.agentSay(chatId, `message ${i}`)
      const many = (yield* pollEvents(sim.baseUrl, cookie, ids.at(-1)!, false)).map((e) => e.id)
      expect(many).toHaveLength(30)
      const gaps = many.slice(1).map((id, i) => id - many[i]!)
      expect(gaps.every((g) => g >= 1 && g <= 3)).toBe(true)
      expect(gaps.some((g) => g > 1)).toBe(true)
    }))

  it.scopedLive("bad eventid / all answer 400 invalidInput naming the parameter", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { cookie } = yield* createChat(sim.baseUrl)
      expectApiError(yield* ccp(`${sim.baseUrl}${BASE}`, { cookie }), 400, "invalidInput", "eventid")
      expectApiError(yield* ccp(`${sim.baseUrl}${BASE}?eventid=abc`, { cookie }), 400, "invalidInput", "eventid")
      expectApiError(yield* ccp(`${sim.baseUrl}${BASE}?eventid=-1`, { cookie }), 400, "invalidInput", "eventid")
      expectApiError(yield* ccp(`${sim.baseUrl}${BASE}?eventid=0&all=yes`, { cookie }), 400, "invalidInput", "all")
    }))

  it.scopedLive("message bodies are form-encoded like Java's URLEncoder; all=true adds the customer's own messages", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      yield* sim.agentJoin(chatId)
      const agentText = "1 + 1 = 2 & <b>bold</b> Καλημέρα ✓ 😀"
      yield* sim.agentSay(chatId, agentText)
      const customerText = "  spaces  a+b & <tag> \"quoted\" Καλημέρα ✓ "
      const sent = yield* ccp(`${sim.baseUrl}${BASE}`, {
        cookie,
        method: "PUT",
        body: xml("Message", { body: customerText })
      })
      expect(sent.status).toBe(200)
      expect(sent.text).toBe("")
      // numeric character references decode like any XML parser's
      const byReference = yield* ccp(`${sim.baseUrl}${BASE}`, {
        cookie,
        method: "PUT",
        body: "<Message><body>tick &#x2713; &#10003; &amp; more</body></Message>"
      })
      expect(byReference.status).toBe(200)
      expect(sim.chats()[0]!.customerMessages).toEqual([customerText, "tick ✓ ✓ & more"])

      const withoutOwn = yield* pollEvents(sim.baseUrl, cookie, 0, false)
      const agentMessage = withoutOwn.find((e) => e.type === "MessageEvent")!
      expect(agentMessage.body).toBe(
        "1+%2B+1+%3D+2+%26+%3Cb%3Ebold%3C%2Fb%3E+%CE%9A%CE%B1%CE%BB%CE%B7%CE%BC%CE%AD%CF%81%CE%B1+%E2%9C%93+%F0%9F%98%80"
      )
      expect(javaUrlDecode(agentMessage.body!)).toBe(agentText)
      expect(withoutOwn.filter((e) => e.type === "MessageEvent")).toHaveLength(1)

      const all = yield* pollEvents(sim.baseUrl, cookie, 0, true)
      const messages = all.filter((e) => e.type === "MessageEvent")
      expect(messages.map((e) => e.from)).toEqual(["Sandbox Agent", "Ann Customer", "Ann Customer"])
      expect(messages[1]!.body).toBe(javaUrlEncode(customerText))
      expect(javaUrlDecode(messages[1]!.body!)).toBe(customerText)
      expect(messages[1]!.body).toContain("a%2Bb")
      // the two answers differ only by the customer's messages
      expect(all.filter((e) => !(e.type === "MessageEvent" && e.from === "Ann Customer"))).toEqual(withoutOwn)
    }))
})

describe("Cisco CCP simulator: customer actions", () => {
  it.scopedLive("send, typing, leaveChat (polling still answers), DELETE (the cookie dies)", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const url = `${sim.baseUrl}${BASE}`
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      yield* sim.agentJoin(chatId, "Agent Smith")

      // typing
      expect(
        (yield* ccp(`${url}/event`, {
          cookie,
          method: "PUT",
          body: xml("TypingEvent", { from: "Ann", status: "composing" })
        })).status
      ).toBe(200)
      expect(
        (yield* ccp(`${url}/event`, { cookie, method: "PUT", body: xml("TypingEvent", { status: "paused" }) })).status
      ).toBe(200)
      expectApiError(
        yield* ccp(`${url}/event`, {
          cookie,
          method: "PUT",
          body: xml("TypingEvent", { from: "Ann", status: "typing" })
        }),
        400,
        "invalidInput",
        "status"
      )
      expect(sim.chats()[0]!.customerTyping).toEqual(["composing", "paused"])

      // send: bad bodies
      expectApiError(
        yield* ccp(url, { cookie, method: "PUT", body: "<Message><body>x</Message>" }),
        400,
        "invalidInput"
      )
      expectApiError(
        yield* ccp(url, { cookie, method: "PUT", body: xml("Message", { text: "x" }) }),
        400,
        "invalidInput",
        "body"
      )
      expectApiError(
        yield* ccp(url, { cookie, method: "PUT", body: "<Message><body/></Message>" }),
        400,
        "invalidInput",
        "body"
      )
      expectApiError(
        yield* ccp(url, {
          cookie,
          method: "PUT",
          body: xml("Message", { body: "x" }),
          headers: { "content-type": "text/xml" }
        }),
        400,
        "invalidInput",
        "Content-Type"
      )
      expect((yield* ccp(url, { cookie, method: "PUT", body: xml("Message", { body: "hello agent" }) })).status).toBe(
        200
      )
      expect(sim.chats()[0]!.customerMessages).toEqual(["hello agent"])

      // the customer's typing events come back with from = author (all=false leaves out only its messages)
      const seen = yield* pollEvents(sim.baseUrl, cookie, 0, false)
      expect(seen.filter((e) => e.type === "TypingEvent").map((e) => [e.from, e.status])).toEqual([
        ["Ann Customer", "composing"],
        ["Ann Customer", "paused"]
      ])

      // leaveChat: a PresenceEvent left for the customer, polling still answers, further input is refused
      const left = yield* ccp(`${url}/leaveChat`, { cookie, method: "PUT" })
      expect(left.status).toBe(200)
      const afterLeave = yield* pollEvents(sim.baseUrl, cookie, seen.at(-1)!.id, false)
      expect(afterLeave).toEqual([
        expect.objectContaining({ type: "PresenceEvent", from: "Ann Customer", status: "left" })
      ])
      expect(sim.chats()[0]).toMatchObject({ customerLeft: true, state: "ended", deleted: false })
      expectApiError(
        yield* ccp(url, { cookie, method: "PUT", body: xml("Message", { body: "still there?" }) }),
        400,
        "invalidInput",
        "left"
      )
      expect((yield* ccp(`${url}/leaveChat`, { cookie, method: "PUT" })).status).toBe(200) // idempotent
      expect(yield* pollEvents(sim.baseUrl, cookie, afterLeave[0]!.id, false)).toEqual([])

      // DELETE kills the session
      const deleted = yield* ccp(url, { cookie, method: "DELETE" })
      expect(deleted.status).toBe(200)
      expect(sim.chats()[0]).toMatchObject({ deleted: true, state: "ended" })
      expectApiError(yield* poll(sim.baseUrl, cookie, 0, false), 404, "notFound")
      expectApiError(yield* ccp(url, { cookie, method: "DELETE" }), 404, "notFound")
    }))

  it.scopedLive("the agent leaving ends the chat: customer input is refused with 400, DELETE still works", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      yield* sim.agentJoin(chatId)
      yield* sim.agentLeave(chatId)
      const events = yield* pollEvents(sim.baseUrl, cookie)
      expect(events.slice(-2).map((e) => [e.type, e.status])).toEqual([
        ["PresenceEvent", "joined"],
        ["PresenceEvent", "left"]
      ])
      expect(sim.chats()[0]!.state).toBe("ended")
      expectApiError(
        yield* ccp(`${sim.baseUrl}${BASE}`, { cookie, method: "PUT", body: xml("Message", { body: "x" }) }),
        400,
        "invalidInput",
        "ended"
      )
      // scripting an ended chat is a defect
      const exit = yield* Effect.exit(sim.agentSay(chatId, "too late"))
      expect(exit._tag).toBe("Failure")
      expect((yield* ccp(`${sim.baseUrl}${BASE}`, { cookie, method: "DELETE" })).status).toBe(200)
    }))
})

describe("Cisco CCP simulator: X-API-Key", () => {
  it.scopedLive("every /ccp request needs the key when apiKey is set", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options({ apiKey: "k-123" }))
      expect((yield* ccp(`${sim.baseUrl}${BASE}`, { body: socialContact() })).status).toBe(401)
      expect((yield* ccp(`${sim.baseUrl}${BASE}`, { body: socialContact(), headers: { "x-api-key": "wrong" } })).status)
        .toBe(401)
      expect(sim.chats()).toHaveLength(0)
      const { cookie } = yield* createChat(sim.baseUrl, socialContact(), { "x-api-key": "k-123" })
      expect((yield* poll(sim.baseUrl, cookie, 0, false)).status).toBe(401)
      expect(
        (yield* ccp(`${sim.baseUrl}${BASE}?eventid=0&all=false`, { cookie, headers: { "x-api-key": "k-123" } })).status
      ).toBe(200)
    }))
})

describe("Cisco CCP simulator: timeouts", () => {
  it.scopedLive("join timeout: StatusEvent chat_timedout_waiting_for_agent, the chat ends (found by the sweep too)", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options({ joinTimeoutMs: 200 }))
      const { cookie } = yield* createChat(sim.baseUrl)
      const joined = yield* createChat(sim.baseUrl, socialContact({ title: "other" }))
      yield* sim.agentJoin(joined.chatId)
      expect(yield* pollEvents(sim.baseUrl, cookie)).toHaveLength(1) // chat_ok
      yield* sleep(400)
      // no request since: the sweep ended it
      expect(sim.chats().map((c) => c.state)).toEqual(["ended", "active"])
      const events = yield* pollEvents(sim.baseUrl, cookie)
      expect(events.at(-1)).toMatchObject({ type: "StatusEvent", status: "chat_timedout_waiting_for_agent" })
      expect(events.at(-1)!.detail).not.toBe("")
      expect(
        (yield* pollEvents(sim.baseUrl, joined.cookie)).some((e) => e.status === "chat_timedout_waiting_for_agent")
      ).toBe(false)
    }))

  it.scopedLive("inactivity: polls do not count; the agent leaves, chat_finished; the idle session then expires (404)", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options({ inactivityTimeoutMs: 300, joinTimeoutMs: 0 }))
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      yield* sim.agentJoin(chatId, "Agent Smith")
      let events: Array<Ev> = []
      for (let i = 0; i < 12; i++) {
        events = yield* pollEvents(sim.baseUrl, cookie)
        yield* sleep(50)
      }
      expect(events.slice(-2).map((e) => [e.type, e.from ?? "", e.status])).toEqual([
        ["PresenceEvent", "Agent Smith", "left"],
        ["StatusEvent", "", "chat_finished"]
      ])
      expect(sim.chats()[0]!.state).toBe("ended")
      // nobody polls any more: the session expires
      yield* sleep(450)
      expectApiError(yield* poll(sim.baseUrl, cookie, 0, false), 404, "notFound", "expired")
      expect(sim.chats()[0]!.deleted).toBe(false)
    }))

  it.scopedLive("customer activity keeps a chat alive", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options({ inactivityTimeoutMs: 250, joinTimeoutMs: 0 }))
      const { cookie } = yield* createChat(sim.baseUrl)
      for (let i = 0; i < 8; i++) {
        expect(
          (yield* ccp(`${sim.baseUrl}${BASE}`, { cookie, method: "PUT", body: xml("Message", { body: `m${i}` }) }))
            .status
        ).toBe(200)
        yield* sleep(60)
      }
      expect(sim.chats()[0]!.state).toBe("waiting")
    }))
})

describe("Cisco CCP simulator: scripted failures and the request log", () => {
  it.scopedLive("failNext: 503 empty, 500 apiErrors, then normal again; garbleNext: malformed poll answers; requests()", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      yield* sim.agentJoin(chatId)

      yield* sim.failNext(2, 503)
      const a = yield* poll(sim.baseUrl, cookie, 0, false)
      const b = yield* ccp(`${sim.baseUrl}${BASE}`, { cookie, method: "PUT", body: xml("Message", { body: "lost" }) })
      expect([a.status, b.status]).toEqual([503, 503])
      expect(a.text).toBe("")
      expect(sim.chats()[0]!.customerMessages).toEqual([]) // not processed
      yield* sim.failNext(1, 500)
      expectApiError(yield* poll(sim.baseUrl, cookie, 0, false), 500, "internalServerError")
      const good = yield* poll(sim.baseUrl, cookie, 0, false)
      expect(good.status).toBe(200)

      yield* sim.garbleNext(2)
      const garbled = yield* poll(sim.baseUrl, cookie, 0, false)
      expect(garbled.status).toBe(200)
      expect(XMLValidator.validate(garbled.text)).not.toBe(true)
      const garbledEmpty = yield* poll(sim.baseUrl, cookie, sim.chats()[0]!.lastEventId, false)
      expect(XMLValidator.validate(garbledEmpty.text)).not.toBe(true)
      expect((yield* poll(sim.baseUrl, cookie, 0, false)).text).toBe(good.text) // nothing lost: re-read

      const log = sim.requests()
      expect(log[0]).toEqual({ method: "POST", path: BASE, query: "", status: 201 })
      expect(log.slice(1).map((r) => [r.method, r.status, r.chatId])).toEqual([
        ["GET", 503, chatId],
        ["PUT", 503, chatId],
        ["GET", 500, chatId],
        ["GET", 200, chatId],
        ["GET", 200, chatId],
        ["GET", 200, chatId],
        ["GET", 200, chatId]
      ])
      expect(log[1]!.query).toBe("eventid=0&all=false")
    }))

  it.scopedLive("the /sim routes drive the agent over HTTP", () =>
    Effect.gen(function*() {
      const sim = yield* makeCiscoSim(options())
      const { cookie, chatId } = yield* createChat(sim.baseUrl)
      const post = (path: string, body?: unknown) =>
        ccp(`${sim.baseUrl}${path}`, {
          method: "POST",
          ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {})
        })
      expect((yield* post(`/sim/chats/${chatId}/join`, { agentName: "Curl Agent" })).status).toBe(204)
      expect((yield* post(`/sim/chats/${chatId}/say`, { text: "from curl" })).status).toBe(204)
      expect((yield* post(`/sim/chats/${chatId}/typing`, { status: "paused" })).status).toBe(204)
      expect((yield* post(`/sim/chats/${chatId}/status`, { status: "chat_issue", detail: "d" })).status).toBe(204)
      expect((yield* post(`/sim/chats/nope/join`)).status).toBe(404)
      expect((yield* post(`/sim/chats/${chatId}/say`, {})).status).toBe(400)
      const events = yield* pollEvents(sim.baseUrl, cookie)
      expect(events.slice(1).map((e) => e.type)).toEqual([
        "PresenceEvent",
        "MessageEvent",
        "TypingEvent",
        "StatusEvent"
      ])
      expect(events[2]).toMatchObject({ from: "Curl Agent", body: "from+curl" })
      expect((yield* post(`/sim/chats/${chatId}/leave`)).status).toBe(204)
      expect((yield* post(`/sim/chats/${chatId}/say`, { text: "x" })).status).toBe(409)
      expect((yield* post(`/sim/fail`, { n: 1, status: 503 })).status).toBe(204)
      expect((yield* poll(sim.baseUrl, cookie, 0, false)).status).toBe(503)
      const chats = JSON.parse((yield* ccp(`${sim.baseUrl}/sim/chats`)).text) as Array<
        { chatId: string; state: string }
      >
      expect(chats).toEqual([expect.objectContaining({ chatId, state: "ended" })])
      const requests = JSON.parse((yield* ccp(`${sim.baseUrl}/sim/requests`)).text) as Array<{ path: string }>
      expect(requests.every((r) => r.path.startsWith("/ccp/"))).toBe(true)
    }))
})
