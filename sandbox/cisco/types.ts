/** The Cisco CCP simulator's options and its scripting interface. */
import { Data, type Effect } from "effect"
import type { UnreachableControls } from "../http/unreachable.js"

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
export interface CiscoSim extends UnreachableControls {
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
  readonly requests: () => ReadonlyArray<
    { method: string; path: string; query: string; status: number; chatId?: string }
  >
}

/** A misuse of the scripting interface (unknown chat, chat over, no agent joined). */
export class CiscoSimError
  extends Data.TaggedError("CiscoSimError")<{ readonly status: number; readonly message: string }>
{}
