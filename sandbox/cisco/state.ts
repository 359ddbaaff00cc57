/**
 * What the CCP simulator holds: the chats (by id and by session cookie), their events with
 * gapped ids, and the timeouts that end a chat (no agent joined, inactivity) and kill its
 * session (no request on it).
 */
import { randomBytes, randomInt } from "node:crypto"
import { type Countdown, makeCountdown } from "../http/scripts.js"
import type { CiscoSimOptions, SimCcpRequest, SimChat } from "./types.js"

export type ChatEvent =
  | {
    readonly kind: "MessageEvent"
    readonly id: number
    readonly from: string
    readonly body: string
    readonly byCustomer: boolean
  }
  | { readonly kind: "PresenceEvent"; readonly id: number; readonly from: string; readonly status: "joined" | "left" }
  | {
    readonly kind: "TypingEvent"
    readonly id: number
    readonly from: string
    readonly status: "composing" | "paused"
  }
  | { readonly kind: "StatusEvent"; readonly id: number; readonly status: string; readonly detail: string }

type NewEvent = ChatEvent extends infer E ? (E extends ChatEvent ? Omit<E, "id"> : never) : never

export interface ChatState {
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

export interface CiscoState {
  readonly inactivityTimeoutMs: number
  readonly joinTimeoutMs: number
  readonly feeds: ReadonlySet<string>
  readonly byId: Map<string, ChatState>
  readonly byCookie: Map<string, ChatState>
  /** Chats whose session lives: what the sweep looks at. */
  readonly live: Set<ChatState>
  /** Dead sessions in the order they died (the oldest first), to forget them after a while. */
  readonly dead: Array<ChatState>
  /** The /ccp requests, trimmed to the latest MAX_REQUESTS_KEPT now and then. */
  requestLog: Array<SimCcpRequest>
  /** failNext: the status of the next scripted answers. */
  readonly failures: Countdown<500 | 503>
  /** garbleNext: poll answers cut short. */
  readonly garbles: Countdown
}

export const makeState = (options: CiscoSimOptions): CiscoState => ({
  inactivityTimeoutMs: options.inactivityTimeoutMs ?? 300_000,
  joinTimeoutMs: options.joinTimeoutMs ?? 60_000,
  feeds: new Set(options.feeds),
  byId: new Map(),
  byCookie: new Map(),
  live: new Set(),
  dead: [],
  requestLog: [],
  failures: makeCountdown(),
  garbles: makeCountdown()
})

export const ENDING_STATUSES = new Set([
  "chat_finished",
  "chat_finished_error",
  "chat_timedout_waiting_for_agent",
  "chat_request_rejected_by_agent"
])
const FORGET_DEAD_AFTER_MS = 10 * 60_000
export const MAX_REQUESTS_KEPT = 100_000

export const hex32 = () => randomBytes(16).toString("hex").toUpperCase()

export const snapshot = (c: ChatState): SimChat => ({
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

/** Every chat, oldest first. */
export const allChats = (state: CiscoState): ReadonlyArray<SimChat> => [...state.byId.values()].map(snapshot)

/** Index of the first event whose id is > n (ids ascend). */
export const firstAfter = (events: ReadonlyArray<ChatEvent>, n: number): number => {
  let lo = 0
  let hi = events.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (events[mid]!.id <= n) lo = mid + 1
    else hi = mid
  }
  return lo
}

// ---- events and timeouts ----

export const append = (c: ChatState, event: NewEvent) => {
  c.lastEventId += randomInt(1, 4) // ids increase with gaps of 1-3
  c.events.push({ ...event, id: c.lastEventId } as ChatEvent)
}

export const end = (c: ChatState) => {
  c.state = "ended"
  c.agents.length = 0
}

export const die = (state: CiscoState, c: ChatState, at: number) => {
  if (c.state !== "ended") end(c)
  c.diedAt = at
  state.live.delete(c)
  state.dead.push(c)
}

/** Applies the timeouts due at `t` (the sweep does this for every live chat; requests for theirs first). */
export const settle = (state: CiscoState, c: ChatState, t: number) => {
  if (c.diedAt !== undefined) return
  if (c.state === "waiting" && state.joinTimeoutMs > 0 && t - c.createdAt >= state.joinTimeoutMs) {
    append(c, {
      kind: "StatusEvent",
      status: "chat_timedout_waiting_for_agent",
      detail: `no agent became available within ${Math.round(state.joinTimeoutMs / 1000)} s`
    })
    end(c)
  }
  if (c.state !== "ended" && t - c.lastActivity >= state.inactivityTimeoutMs) {
    for (const agent of c.agents) append(c, { kind: "PresenceEvent", from: agent, status: "left" })
    append(c, { kind: "StatusEvent", status: "chat_finished", detail: "inactivity timeout" })
    end(c)
  }
  if (t - c.lastRequest >= state.inactivityTimeoutMs) die(state, c, t)
}

/** Settles every live chat, and forgets the sessions dead for long enough. */
export const sweep = (state: CiscoState) => {
  const t = Date.now()
  for (const c of state.live) settle(state, c, t)
  let forget = 0
  while (forget < state.dead.length && t - state.dead[forget]!.diedAt! >= FORGET_DEAD_AFTER_MS) {
    state.byId.delete(state.dead[forget]!.chatId)
    state.byCookie.delete(state.dead[forget]!.cookie)
    forget++
  }
  if (forget > 0) state.dead.splice(0, forget)
}

/** How often the sweep runs: a tenth of the shortest timeout, between 10 ms and 1 s. */
export const sweepInterval = (state: CiscoState) => {
  const shortest = Math.min(state.inactivityTimeoutMs, state.joinTimeoutMs > 0 ? state.joinTimeoutMs : Infinity)
  return Math.max(10, Math.min(1_000, Math.floor(shortest / 10)))
}
