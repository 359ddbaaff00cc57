/**
 * hbf-bot simulator (docs/CONTRACTS.md#hbf-bot): receives the gateway's normalized events.
 *
 *   POST /livechat-events          validates the envelope (and `data` per type) -> 400 naming the field;
 *                                  with a signingSecret, `X-LCG-Timestamp` within 5 minutes and
 *                                  `X-LCG-Signature: sha256=<hex HMAC of timestamp + "." + body>` -> 401 if not;
 *                                  200 { received: id } and records the event (logged with Effect.log).
 *   GET  /sandbox/events[?sessionId=…]   the recorded events (JSON array, arrival order)
 */
import { HttpRouter } from "@effect/platform"
import { Data, Duration, Effect, Schema } from "effect"
import type { Scope } from "effect"
import { handle, json, plainRefusals, reject } from "./http/answers.js"
import { decode, jsonValue, readBody } from "./http/body.js"
import { request, searchParams } from "./http/requests.js"
import { EventType, IsoDateTime, JsonObject, NonEmptyString } from "./http/schemas.js"
import { makeFailureScript } from "./http/scripts.js"
import { serveRouter } from "./http/serve.js"
import { hmacSha256, safeEqual } from "./http/signatures.js"

const Agent = Schema.Struct({
  id: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  avatarUrl: Schema.optional(Schema.String)
})
const EventAttachment = Schema.Struct({
  url: Schema.String,
  contentType: Schema.String,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number)
})
/** An attachment the agent sent that the gateway cannot pass on: no `url`, by definition. */
const UnavailableAttachment = Schema.Struct({
  contentType: Schema.String,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number),
  url: Schema.optional(Schema.Never)
})

/** `data` per event type (docs/CONTRACTS.md#hbf-bot). */
const dataSchemas = {
  "request.queued": Schema.Struct({
    position: Schema.optional(Schema.Number),
    estimatedWaitSeconds: Schema.optional(Schema.Number),
    source: Schema.optional(Schema.Literal("provider", "gateway")),
    agent: Schema.optional(Agent)
  }),
  "agent.joined": Schema.Struct({ agent: Agent }),
  "agent.message": Schema.Struct({
    text: Schema.optional(Schema.String),
    attachments: Schema.optional(Schema.Array(EventAttachment)),
    unavailableAttachments: Schema.optional(Schema.Array(UnavailableAttachment)),
    agent: Schema.optional(Agent)
  }),
  "agent.typing": Schema.Struct({ typing: Schema.Boolean, agent: Schema.optional(Agent) }),
  "agent.left": Schema.Struct({ agent: Schema.optional(Agent) }),
  "session.ended": Schema.Struct({
    reason: Schema.Literal("agent", "user", "timeout", "inactivity", "provider", "error")
  }),
  "request.failed": Schema.Struct({ reason: Schema.String, message: Schema.optional(Schema.String) }),
  "agent.read": Schema.Struct({ upToProviderMessageId: Schema.optional(Schema.String), agent: Schema.optional(Agent) }),
  "request.wait-warning": Schema.Struct({
    waitedSeconds: Schema.Int,
    position: Schema.optional(Schema.Int),
    estimatedWaitSeconds: Schema.optional(Schema.Int)
  }),
  "session.inactivity-warning": Schema.Struct({ endsAt: IsoDateTime })
} as const

export const BotEventEnvelope = Schema.Struct({
  id: NonEmptyString,
  type: EventType,
  sessionId: NonEmptyString,
  tenantId: NonEmptyString,
  organizationId: NonEmptyString,
  subHandle: NonEmptyString,
  provider: Schema.Literal("helvia-livechat", "cisco-livechat", "genesys-livechat", "zendesk"),
  seq: Schema.Int.pipe(Schema.nonNegative()),
  occurredAt: IsoDateTime,
  data: JsonObject
})

/** An event as hbf-bot received it (decoded envelope; `data` checked against its type, kept as sent). */
export type ReceivedEvent = typeof BotEventEnvelope.Type

export interface BotAttempt {
  /** The parsed JSON body (whatever it was), or the raw text when it was not JSON. */
  readonly body: unknown
  readonly status: number
  readonly at: string
}

export class BotWaitTimeout extends Data.TaggedError("BotWaitTimeout")<{
  readonly message: string
  readonly events: ReadonlyArray<ReceivedEvent>
}> {}

export interface HbfBotSimOptions {
  /** When set, every POST must be signed as the README's "Events to hbf-bot" says. */
  readonly signingSecret?: string
}

export interface HbfBotSim {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string
  /** Events answered 200, in arrival order (redeliveries appear again: nothing is de-duplicated). */
  readonly events: () => ReadonlyArray<ReceivedEvent>
  /** Events of one session, in arrival order. */
  readonly eventsOf: (sessionId: string) => ReadonlyArray<ReceivedEvent>
  /** When an event (by id) first arrived, in epoch ms: for delivery-delay measurements. */
  readonly firstReceivedAt: (eventId: string) => number | undefined
  /** Every POST /livechat-events, whatever it was answered, in arrival order. */
  readonly attempts: () => ReadonlyArray<BotAttempt>
  /** The next `n` posts answer `status` (with `Retry-After: <s>` when given), before any check. */
  readonly failNext: (n: number, status: number, retryAfterSeconds?: number) => void
  /**
   * Valid events matching `predicate` answer `status` (not recorded) until the returned
   * function is called. Several may be active; the first match wins.
   */
  readonly failWhile: (
    predicate: (event: ReceivedEvent) => boolean,
    status: number,
    retryAfterSeconds?: number
  ) => () => void
  /**
   * Succeeds with the events once `predicate(events)` holds (checked now and on every new
   * event), fails with BotWaitTimeout after `timeout` (default 5 s, wall clock).
   */
  readonly waitFor: (
    predicate: (events: ReadonlyArray<ReceivedEvent>) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<ReceivedEvent>, BotWaitTimeout>
  /** Forgets recorded events and attempts. */
  readonly clear: () => void
}

interface FailRule {
  readonly predicate: (event: ReceivedEvent) => boolean
  readonly status: number
  readonly retryAfterSeconds: number | undefined
}

const loosely = (raw: Uint8Array): unknown => {
  const text = Buffer.from(raw).toString("utf8")
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** How far X-LCG-Timestamp may be from this receiver's clock: older events are replays. */
const SIGNATURE_TOLERANCE_SECONDS = 300

/** What is wrong with the signature of `raw`, as hbf-bot verifies it (README, "Events to hbf-bot"). */
const signatureProblem = (
  headers: Readonly<Record<string, string | undefined>>,
  secret: string,
  raw: Uint8Array
): string | undefined => {
  const timestamp = headers["x-lcg-timestamp"]
  const signature = headers["x-lcg-signature"]
  if (timestamp === undefined || signature === undefined) return "missing X-LCG-Timestamp or X-LCG-Signature header"
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
    return "X-LCG-Timestamp is not within 5 minutes of now"
  }
  const expected = `sha256=${hmacSha256(secret, Buffer.concat([Buffer.from(`${timestamp}.`), raw]))}`
  return safeEqual(signature.trim().toLowerCase(), expected) ? undefined : "invalid X-LCG-Signature"
}

const summary = (events: ReadonlyArray<ReceivedEvent>) =>
  events.length === 0 ? "none" : events.map((e) => `${e.type}#${e.seq}@${e.sessionId}`).join(", ")

export const makeHbfBotSim = (options: HbfBotSimOptions = {}): Effect.Effect<HbfBotSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    let events: Array<ReceivedEvent> = []
    const arrivals = new Map<string, number>()
    let attempts: Array<BotAttempt> = []
    const rules = new Set<FailRule>()
    const listeners = new Set<() => void>()
    const failures = makeFailureScript("hbf-bot")

    /** Every check of one POST, in the order a real receiver would run them. */
    const check = (raw: Uint8Array) =>
      Effect.gen(function*() {
        yield* failures.take()
        if (options.signingSecret !== undefined) {
          const problem = signatureProblem((yield* request).headers, options.signingSecret, raw)
          if (problem !== undefined) return yield* reject(401, "Unauthorized", problem)
        }
        const value = yield* jsonValue(plainRefusals, raw)
        const event = yield* decode(plainRefusals, BotEventEnvelope, value)
        yield* decode(plainRefusals, Schema.Struct({ data: dataSchemas[event.type] }), value) // errors name data.<field>
        for (const rule of rules) {
          if (rule.predicate(event)) {
            yield* Effect.log(
              `hbf-bot <- ${event.type} session=${event.sessionId} seq=${event.seq}: answering ${rule.status} (failWhile)`
            )
            return yield* reject(
              rule.status,
              "SimulatedFailure",
              `hbf-bot simulator: scripted ${rule.status} (failWhile)`,
              undefined,
              rule.retryAfterSeconds !== undefined ? { "retry-after": String(rule.retryAfterSeconds) } : undefined
            )
          }
        }
        events.push(event)
        if (!arrivals.has(event.id)) arrivals.set(event.id, Date.now())
        yield* Effect.log(`hbf-bot <- ${event.type} session=${event.sessionId} seq=${event.seq}`)
        for (const listener of [...listeners]) listener()
        return json(200, { received: event.id })
      })

    const receive = handle(
      Effect.gen(function*() {
        const raw = yield* readBody(plainRefusals)
        const response = yield* handle(check(raw))
        attempts.push({ body: loosely(raw), status: response.status, at: new Date().toISOString() })
        if (response.status !== 200) {
          yield* Effect.logDebug(`hbf-bot answered ${response.status} to a POST /livechat-events`)
        }
        return response
      })
    )

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/livechat-events", receive),
      HttpRouter.get(
        "/sandbox/events",
        Effect.map(searchParams, (params) => {
          const sessionId = params.get("sessionId")
          return json(200, sessionId === null ? events : events.filter((e) => e.sessionId === sessionId))
        })
      )
    )

    const waitFor = (
      predicate: (events: ReadonlyArray<ReceivedEvent>) => boolean,
      timeout: Duration.DurationInput = "5 seconds"
    ) =>
      Effect.async<ReadonlyArray<ReceivedEvent>, BotWaitTimeout>((resume) => {
        if (predicate(events)) {
          resume(Effect.succeed([...events]))
          return
        }
        const millis = Duration.toMillis(Duration.decode(timeout))
        const check = () => {
          if (predicate(events)) {
            cleanup()
            resume(Effect.succeed([...events]))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          resume(
            Effect.fail(
              new BotWaitTimeout({
                message: `hbf-bot simulator: condition not met within ${millis} ms; received: ${summary(events)}`,
                events: [...events]
              })
            )
          )
        }, millis)
        const cleanup = () => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        return Effect.sync(cleanup)
      })

    const baseUrl = yield* serveRouter("hbf-bot simulator", router)
    return {
      baseUrl,
      events: () => [...events],
      eventsOf: (sessionId) => events.filter((e) => e.sessionId === sessionId),
      attempts: () => [...attempts],
      failNext: (n, status, retryAfterSeconds) => failures.failNext(n, status, retryAfterSeconds),
      failWhile: (predicate, status, retryAfterSeconds) => {
        const rule: FailRule = { predicate, status, retryAfterSeconds }
        rules.add(rule)
        return () => void rules.delete(rule)
      },
      waitFor,
      firstReceivedAt: (eventId) => arrivals.get(eventId),
      clear: () => {
        arrivals.clear()
        events = []
        attempts = []
      }
    }
  })
