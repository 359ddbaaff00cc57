/**
 * One driver per provider: how its simulated agent joins, speaks and ends, how its webhooks
 * are duplicated, reordered and corrupted, how it is made to answer 429/503 bursts, and
 * where the user's messages land at the provider. The traffic, the faults and the checker
 * only go through this table, never through a provider's simulator directly.
 */
import { Duration, Effect } from "effect"
import { createHmac, randomBytes, randomUUID } from "node:crypto"
import { demoGenesys, demoHelviaSecret, demoZendesk } from "../../sandbox/demoTenants.js"
import type { WebhookEvent, ZendeskMessage } from "../../sandbox/zendesk/index.js"
import type { Rig } from "./rig.js"

export type ProviderAlias = "helvia-livechat" | "genesys-livechat" | "cisco-livechat" | "zendesk"

export interface ChatSession {
  readonly provider: ProviderAlias
  readonly tenantId: string
  readonly index: number
  readonly subHandle: string
  readonly sessionId: string
  /** The provider's id of the conversation (hbf-lcm: the session id; CCP: the chat id). */
  readonly conversationId: string
}

/** One corrupted webhook: what it is, and its bytes and headers. */
export interface MalformedWebhook {
  readonly kind: "bad JSON" | "bad signature" | "wrong shape"
  readonly body: Uint8Array | string
  readonly headers: Record<string, string>
}

export interface ProviderDriver {
  readonly provider: ProviderAlias
  readonly tenantId: string
  readonly join: (s: ChatSession) => Effect.Effect<void>
  /**
   * The agent says `text`. True when the provider holds the message so that the gateway must
   * deliver it: a webhook answered 2xx (redelivered until then, as the provider would), or
   * a message the gateway polls for.
   */
  readonly say: (s: ChatSession, text: string) => Effect.Effect<boolean>
  readonly endByAgent: (s: ChatSession) => Effect.Effect<void>
  /** The user's message texts as the provider received them. */
  readonly userTexts: (s: ChatSession) => ReadonlyArray<string>
  /** The provider answers the gateway's next `n` calls with `status`. */
  readonly burst: (n: number, status: 429 | 503) => Effect.Effect<void>
  /** The provider sends an earlier agent webhook of `s` again (undefined: it has no webhooks). */
  readonly duplicate: ((s: ChatSession) => Effect.Effect<string>) | undefined
  /**
   * Two agent messages whose webhooks reach the gateway in the opposite order (each carries
   * the provider's time, so the order is recoverable): the texts the gateway must deliver.
   */
  readonly reorder:
    | ((s: ChatSession, texts: readonly [string, string]) => Effect.Effect<ReadonlyArray<string>>)
    | undefined
  readonly malformed: (s: ChatSession) => ReadonlyArray<MalformedWebhook>
}

const json = (value: unknown) => new Uint8Array(Buffer.from(JSON.stringify(value), "utf8"))
const is2xx = (status: number) => status >= 200 && status < 300
const hmacHex = (secret: string, raw: Uint8Array | string) => createHmac("sha256", secret).update(raw).digest("hex")
const hmacBase64 = (secret: string, raw: Uint8Array | string) =>
  createHmac("sha256", secret).update(raw).digest("base64")

/** Posts a webhook again until the gateway answers 2xx (a provider retrying), at most `tries` times. */
const untilAccepted = (post: Effect.Effect<number>, tries = 20) =>
  Effect.gen(function*() {
    for (let i = 0; i < tries; i++) {
      if (is2xx(yield* post)) return true
      yield* Effect.sleep(Duration.millis(1_000))
    }
    return false
  })

/** A simulator's scripting call that dies on misuse (a conversation already over) counts as not done. */
const orFalse = <E>(effect: Effect.Effect<boolean, E>) =>
  effect.pipe(Effect.catchAll(() => Effect.succeed(false)), Effect.catchAllDefect(() => Effect.succeed(false)))
const quietly = <A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(Effect.ignore, Effect.catchAllDefect(() => Effect.void))

export const makeDrivers = (rig: Rig): ReadonlyArray<ProviderDriver> => {
  const { lcm, genesys, cisco, zendesk } = rig.sandbox
  /** Agent webhook ids sent per session (for duplicates). */
  const sent = new Map<string, Array<string>>()
  const remember = (sessionId: string, id: string) => {
    const list = sent.get(sessionId) ?? []
    list.push(id)
    sent.set(sessionId, list)
  }
  const recentOf = (sessionId: string) => {
    const list = sent.get(sessionId) ?? []
    return list[Math.max(0, list.length - 1 - Math.floor(Math.random() * Math.min(5, list.length)))]
  }

  // ----- helvia-livechat (hbf-lcm): signed webhooks, X-Helvia-Signature hex HMAC

  const helviaEvent = (s: ChatSession, text: string, occurredAt: string) => ({
    id: `lcm-evt-${randomUUID()}`,
    type: "MESSAGE",
    platformSessionId: s.sessionId,
    platformUserId: s.subHandle,
    occurredAt,
    agent: { id: "lcm-agent-1", fullName: "Sandbox Agent" },
    message: { text }
  })
  const helviaPost = (raw: Uint8Array | string, secret = demoHelviaSecret) =>
    rig.postRaw("/events/helvia-livechat", raw, {
      "content-type": "application/json",
      "x-helvia-signature": `sha256=${hmacHex(secret, raw)}`
    })
  /** hbf-lcm's first post; when it did not get a 2xx, the same bytes again. */
  const helviaAct = (
    sessionId: string,
    act: Effect.Effect<{ eventId: string; status: number }, unknown>,
    text?: string
  ) =>
    orFalse(
      Effect.gen(function*() {
        const first = yield* Effect.either(act)
        const eventId = first._tag === "Right"
          ? first.right.eventId
          : [...lcm.webhooks()].reverse().find((h) =>
            h.event.platformSessionId === sessionId && (text === undefined || h.event.message?.text === text)
          )?.eventId
        if (eventId === undefined) return false
        remember(sessionId, eventId)
        if (first._tag === "Right" && is2xx(first.right.status)) return true
        return yield* untilAccepted(
          Effect.map(Effect.either(lcm.resend(eventId)), (r) => (r._tag === "Right" ? r.right.status : 0))
        )
      })
    )

  const helvia: ProviderDriver = {
    provider: "helvia-livechat",
    tenantId: "demo-helvia",
    join: (s) => Effect.asVoid(helviaAct(s.sessionId, lcm.join(s.sessionId))),
    say: (s, text) => helviaAct(s.sessionId, lcm.say(s.sessionId, text), text),
    endByAgent: (s) => Effect.asVoid(helviaAct(s.sessionId, lcm.end(s.sessionId))),
    userTexts: (s) => lcm.messages(s.sessionId).flatMap((m) => (m.text !== undefined ? [m.text] : [])),
    burst: (n, status) => Effect.sync(() => lcm.failNext(n, status)),
    duplicate: (s) =>
      Effect.gen(function*() {
        const id = recentOf(s.sessionId)
        if (id === undefined) return "none sent yet"
        const r = yield* Effect.either(lcm.resend(id))
        return r._tag === "Right" ? String(r.right.status) : "error"
      }),
    reorder: (s, [first, second]) =>
      Effect.gen(function*() {
        const t = Date.now()
        const a = json(helviaEvent(s, first, new Date(t).toISOString()))
        const b = json(helviaEvent(s, second, new Date(t + 1).toISOString()))
        const okB = yield* untilAccepted(helviaPost(b))
        const okA = yield* untilAccepted(helviaPost(a))
        return [...(okA ? [first] : []), ...(okB ? [second] : [])]
      }),
    malformed: (s) => {
      const good = JSON.stringify(helviaEvent(s, `chaos-malformed helvia ${s.index}`, new Date().toISOString()))
      const bad = `${good.slice(0, 40)}`
      const shape = JSON.stringify({
        id: `lcm-evt-${randomUUID()}`,
        platformSessionId: s.sessionId,
        message: { text: `chaos-malformed helvia shape ${s.index}` }
      })
      return [
        {
          kind: "bad JSON",
          body: bad,
          headers: {
            "content-type": "application/json",
            "x-helvia-signature": `sha256=${hmacHex(demoHelviaSecret, bad)}`
          }
        },
        {
          kind: "bad signature",
          body: good,
          headers: {
            "content-type": "application/json",
            "x-helvia-signature": `sha256=${hmacHex("not-the-secret", good)}`
          }
        },
        {
          kind: "wrong shape",
          body: shape,
          headers: {
            "content-type": "application/json",
            "x-helvia-signature": `sha256=${hmacHex(demoHelviaSecret, shape)}`
          }
        }
      ]
    }
  }

  // ----- genesys-livechat: signed outbound webhooks (X-Hub-Signature-256, base64 HMAC); joins and ends by the notifications socket

  const genesysMessage = (s: ChatSession, text: string, time: string) => {
    const id = randomUUID()
    const fromId = genesys.conversations().find((c) => c.conversationId === s.conversationId)?.fromId ?? s.sessionId
    return {
      id,
      channel: {
        id: demoGenesys.integrationId,
        platform: "Open",
        type: "Private",
        to: { id: fromId, idType: "Opaque" },
        from: { nickname: "Sandbox Agent", id: "genesys-agent-1", idType: "Opaque" },
        time,
        messageId: id
      },
      type: "Text",
      text,
      direction: "Outbound",
      originatingEntity: "Human",
      conversationId: s.conversationId
    }
  }
  const genesysPost = (raw: Uint8Array | string, secret: string = demoGenesys.webhookSecret) =>
    rig.postRaw("/events/genesys-livechat", raw, {
      "content-type": "application/json",
      "x-hub-signature-256": `sha256=${hmacBase64(secret, raw)}`
    })

  const genesysDriver: ProviderDriver = {
    provider: "genesys-livechat",
    tenantId: "demo-genesys",
    join: (s) => quietly(genesys.agentJoin(s.conversationId)),
    say: (s, text) =>
      orFalse(
        Effect.gen(function*() {
          // The simulator already retried 5 times; beyond that, as if Genesys kept retrying.
          const { status, webhookId } = yield* genesys.agentSay(s.conversationId, { text })
          remember(s.sessionId, webhookId)
          return is2xx(status) || (yield* untilAccepted(genesys.resendWebhook(webhookId)))
        })
      ),
    endByAgent: (s) => quietly(genesys.endConversation(s.conversationId)),
    userTexts: (s) =>
      genesys.conversations().find((c) => c.conversationId === s.conversationId)?.inbound.flatMap((
        m
      ) => (m.text !== undefined ? [m.text] : [])) ?? [],
    burst: (n, status) => genesys.failNext(n, status, 1),
    duplicate: (s) =>
      Effect.gen(function*() {
        const id = recentOf(s.sessionId)
        return id === undefined ? "none sent yet" : String(yield* genesys.resendWebhook(id))
      }),
    reorder: (s, [first, second]) =>
      Effect.gen(function*() {
        const t = Date.now()
        const okB = yield* untilAccepted(genesysPost(json(genesysMessage(s, second, new Date(t + 1).toISOString()))))
        const okA = yield* untilAccepted(genesysPost(json(genesysMessage(s, first, new Date(t).toISOString()))))
        return [...(okA ? [first] : []), ...(okB ? [second] : [])]
      }),
    malformed: (s) => {
      const good = JSON.stringify(genesysMessage(s, `chaos-malformed genesys ${s.index}`, new Date().toISOString()))
      const bad = good.slice(0, 50)
      const shape = JSON.stringify({
        id: randomUUID(),
        channel: "nope",
        text: `chaos-malformed genesys shape ${s.index}`,
        conversationId: s.conversationId
      })
      const sig = (raw: string, secret: string = demoGenesys.webhookSecret) => ({
        "content-type": "application/json",
        "x-hub-signature-256": `sha256=${hmacBase64(secret, raw)}`
      })
      return [
        { kind: "bad JSON", body: bad, headers: sig(bad) },
        { kind: "bad signature", body: good, headers: sig(good, "not-the-secret") },
        { kind: "wrong shape", body: shape, headers: sig(shape) }
      ]
    }
  }

  // ----- cisco-livechat (CCP): everything is polled; the route takes no webhooks at all

  const ciscoDriver: ProviderDriver = {
    provider: "cisco-livechat",
    tenantId: "demo-cisco",
    join: (s) => quietly(cisco.agentJoin(s.conversationId)),
    // CCP stores it; the owner of the session's partition must poll it in.
    say: (s, text) => orFalse(Effect.as(cisco.agentSay(s.conversationId, text), true)),
    endByAgent: (s) => quietly(cisco.agentLeave(s.conversationId)),
    userTexts: (s) => cisco.chatWith("hbfSessionId", s.sessionId)?.customerMessages ?? [],
    // CCP answers 500/503 only (docs/PROVIDERS.md#cisco-ccp-chat, "Failures"): a 429 burst becomes
    // 500s plus garbled poll answers (a misbehaving proxy).
    burst: (
      n,
      status
    ) => (status === 503 ? cisco.failNext(n, 503) : Effect.zipRight(cisco.failNext(n, 500), cisco.garbleNext(n))),
    duplicate: undefined,
    reorder: undefined,
    malformed: (s) => {
      const good =
        `<chatEvents><MessageEvent><id>1</id><from>x</from><body>chaos-malformed+cisco+${s.index}</body></MessageEvent></chatEvents>`
      return [
        { kind: "bad JSON", body: "{not json", headers: { "content-type": "application/json" } },
        {
          kind: "bad signature",
          body: good,
          headers: { "content-type": "application/xml", "x-api-key": "not-the-key" }
        },
        {
          kind: "wrong shape",
          body: JSON.stringify({ chatId: s.conversationId, events: 7 }),
          headers: { "content-type": "application/json" }
        }
      ]
    }
  }

  // ----- zendesk (Sunshine): webhooks with X-API-Key, a polling backstop

  const sunshineWebhook = (s: ChatSession, message: ZendeskMessage) => ({
    app: { id: demoZendesk.appId },
    webhook: { id: "wh-chaos", version: "v2" },
    events: [
      {
        id: randomBytes(12).toString("hex"),
        createdAt: message.received,
        type: "conversation:message",
        payload: { conversation: { id: s.conversationId, type: "personal" }, message }
      }
    ]
  })
  const zendeskPost = (raw: Uint8Array | string, key: string = demoZendesk.webhookSecret) =>
    rig.postRaw("/events/zendesk", raw, { "content-type": "application/json", "x-api-key": key })
  const isAgentMessageOf = (conversationId: string) => (e: WebhookEvent) => {
    const payload = e.payload as { conversation?: { id?: string }; message?: { source?: { type?: string } } }
    return e.type === "conversation:message" && payload.conversation?.id === conversationId &&
      payload.message?.source?.type === "zd:agentWorkspace"
  }

  const zendeskDriver: ProviderDriver = {
    provider: "zendesk",
    tenantId: "demo-zendesk",
    join: (s) => quietly(zendesk.agentAccept(s.conversationId)),
    // Sunshine stores it; its webhook is retried, and the backstop recovers a lost one.
    say: (s, text) => orFalse(Effect.as(zendesk.agentSay(s.conversationId, text), true)),
    endByAgent: (s) => quietly(zendesk.closeTicket(s.conversationId)),
    userTexts: (s) =>
      zendesk
        .conversations()
        .find((c) => c.id === s.conversationId)
        ?.messages.flatMap((m) => (m.author.type === "user" && m.content.type === "text" ? [m.content.text] : [])) ??
        [],
    burst: (n, status) =>
      zendesk.failNext(n, status, status === 429 ? { retryAfterSeconds: 1 } : { afterApplying: true }),
    // Sunshine's own redelivery: the next event (whatever it is) is sent twice, byte for byte.
    duplicate: () => Effect.as(zendesk.duplicateNextWebhooks(1), "next event twice"),
    reorder: (s, [first, second]) =>
      Effect.gen(function*() {
        // Sunshine's own webhooks for the two messages are lost; the same events arrive later, second first.
        yield* zendesk.dropNextWebhooks(2, isAgentMessageOf(s.conversationId))
        const a = yield* zendesk.agentSay(s.conversationId, first)
        const b = yield* zendesk.agentSay(s.conversationId, second)
        yield* untilAccepted(zendeskPost(json(sunshineWebhook(s, b))))
        yield* untilAccepted(zendeskPost(json(sunshineWebhook(s, a))))
        return [first, second] // stored at Sunshine: delivered whatever the webhooks' fate (backstop)
      }).pipe(Effect.catchAllDefect(() => Effect.succeed([] as ReadonlyArray<string>))),
    malformed: (s) => {
      const good = JSON.stringify(
        sunshineWebhook(s, {
          id: randomBytes(12).toString("hex"),
          received: new Date().toISOString(),
          author: { type: "business", displayName: "Sandbox Agent" },
          content: { type: "text", text: `chaos-malformed zendesk ${s.index}` },
          source: { type: "zd:agentWorkspace" }
        })
      )
      const shape = JSON.stringify({
        app: { id: demoZendesk.appId },
        events: { id: 1, type: "conversation:message", text: `chaos-malformed zendesk shape ${s.index}` }
      })
      const key = { "content-type": "application/json", "x-api-key": demoZendesk.webhookSecret }
      return [
        { kind: "bad JSON", body: good.slice(0, 60), headers: key },
        { kind: "bad signature", body: good, headers: { ...key, "x-api-key": "not-the-key" } },
        { kind: "wrong shape", body: shape, headers: key }
      ]
    }
  }

  return [helvia, genesysDriver, ciscoDriver, zendeskDriver]
}
