/**
 * Cisco Customer Collaboration Platform (CCP, formerly SocialMiner) chat REST API simulator
 * (docs/PROVIDERS.md#cisco-ccp-chat): XML bodies, the chat identified by its
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
 *   GET  /sim                                           the agent's actions with example bodies (JSON)
 *   POST /sim/fail                                      { n, status: 500|503 }
 *   POST /sim/unreachable                               { unreachable }: every /ccp call answers 503, empty, while true
 *   POST /sim/garble                                    { n }
 *   GET  /sim/requests                                  the /ccp requests received
 *
 * Choices where docs/PROVIDERS.md is silent:
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
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import { listen, serve } from "../http/serve.js"
import { makeUnreachableSwitch } from "../http/unreachable.js"
import { makeAgent, simRoutes } from "./agent.js"
import { customerRoutes } from "./routes.js"
import {
  allChats,
  type ChatState,
  type CiscoState,
  makeState,
  MAX_REQUESTS_KEPT,
  snapshot,
  sweep,
  sweepInterval
} from "./state.js"
import type { CiscoSim, CiscoSimOptions, SimCcpRequest } from "./types.js"
import { ccpRefusals } from "./xml.js"

export { javaUrlDecode, javaUrlEncode } from "./javaUrl.js"
export * from "./types.js"

/** Keeps the request log near its bound: cut back to the latest MAX_REQUESTS_KEPT once it holds twice as many. */
const record = (state: CiscoState, entry: SimCcpRequest) => {
  state.requestLog.push(entry)
  if (state.requestLog.length > 2 * MAX_REQUESTS_KEPT) state.requestLog = state.requestLog.slice(-MAX_REQUESTS_KEPT)
}

export const makeCiscoSim = (options: CiscoSimOptions): Effect.Effect<CiscoSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state = makeState(options)
    yield* Effect.acquireRelease(
      Effect.sync(() => setInterval(() => sweep(state), sweepInterval(state)).unref()),
      (timer) => Effect.sync(() => clearInterval(timer))
    )
    const agent = makeAgent(state)
    const loopback = yield* listen
    const unreachable = makeUnreachableSwitch()
    const routes = HttpRouter.concatAll(
      customerRoutes(state, options, loopback.url),
      simRoutes(state, agent),
      unreachable.route(HttpRouter.empty)
    )
    yield* serve(loopback, unreachable.guard(routes), {
      name: "cisco sim",
      refusals: ccpRefusals,
      record: (answered, req) => {
        if (!answered.path.startsWith("/ccp/") && answered.path !== "/ccp") return
        const chatId = state.byCookie.get(req.cookies["JSESSIONID"] ?? "")?.chatId
        record(state, { ...answered, ...(chatId !== undefined ? { chatId } : {}) })
      }
    })

    return {
      baseUrl: loopback.url,
      chats: () => allChats(state),
      chatWith: (name, value) => {
        let newest: ChatState | undefined
        for (const c of state.byId.values()) if (c.extensionFields[name] === value) newest = c // insertion order: the last is the newest
        return newest === undefined ? undefined : snapshot(newest)
      },
      agentJoin: (chatId, agentName) => Effect.orDie(agent.join(chatId, agentName)),
      agentSay: (chatId, text) => Effect.orDie(agent.say(chatId, text)),
      agentTyping: (chatId, status) => Effect.orDie(agent.typing(chatId, status)),
      agentLeave: (chatId) => Effect.orDie(agent.leave(chatId)),
      status: (chatId, status, detail) => Effect.orDie(agent.postStatus(chatId, status, detail)),
      failNext: (n, status) => Effect.sync(() => state.failures.arm(n, status)),
      garbleNext: (n) => Effect.sync(() => state.garbles.arm(n)),
      ...unreachable.controls,
      requests: () => (state.requestLog.length > MAX_REQUESTS_KEPT
        ? state.requestLog.slice(-MAX_REQUESTS_KEPT)
        : [...state.requestLog])
    } satisfies CiscoSim
  })
