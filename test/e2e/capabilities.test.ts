/**
 * GET /tenants/:tenantId/capabilities and the 202's `delivery` tell the truth, for each provider
 * through its simulator: a message with a long text and an attachment reaches the agent in as
 * many messages as `delivery.parts` says, its attachment as a file (`native`) or as a link in
 * the text (`as-links`) as both say, its text whole; a retry answers the same without sending
 * again. A token confined to another tenant learns nothing of a tenant's provider.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import type { Capabilities, ProviderAlias } from "../../src/domain/model.js"
import { redisKeys } from "../../src/infra/redis/keys.js"
import { providerCapabilities } from "../../src/providers/ProviderRegistryLive.js"
import { testRedisUrl } from "../integration/redis.js"
import { type Gateway, livechatRequest, startGateway, stores } from "./harness.js"

const attachment = { url: "https://files.example/contract.pdf", contentType: "application/pdf", name: "contract.pdf" }

/** What the agent's side got of message `messageId`: its messages, their text, and the attachment as a file or not. */
interface Received {
  readonly messages: number
  readonly text: string
  readonly asFile: boolean
}

const providers: ReadonlyArray<{
  readonly alias: ProviderAlias
  readonly tenantId: string
  readonly received: (gw: Gateway, sessionId: string, subHandle: string, messageId: string) => Received
}> = [
  {
    alias: "helvia-livechat",
    tenantId: "demo-helvia",
    received: (gw, sessionId, _, messageId) => {
      const messages = gw.lcm.messages(sessionId).filter((m) => m.messageId === messageId)
      return {
        messages: messages.length,
        text: messages.map((m) => m.text ?? "").join(""),
        asFile: messages.some((m) => m.attachments?.some((a) => a.url === attachment.url))
      }
    }
  },
  {
    alias: "genesys-livechat",
    tenantId: "demo-genesys",
    received: (gw, sessionId, _, messageId) => {
      const messages = gw.genesys.conversationOf(sessionId)!.inbound.filter((m) => m.messageId === messageId)
      return {
        messages: messages.length,
        text: messages.map((m) => m.text ?? "").join(""),
        asFile: messages.some((m) => m.content.some((c) => c.attachment?.url === attachment.url))
      }
    }
  },
  {
    alias: "cisco-livechat",
    tenantId: "demo-cisco",
    // CCP messages carry no id of ours: the chat has only this test's message.
    received: (gw, sessionId) => {
      const messages = gw.cisco.chatWith("hbfSessionId", sessionId)!.customerMessages
      return { messages: messages.length, text: messages.join(""), asFile: false }
    }
  },
  {
    alias: "zendesk",
    tenantId: "demo-zendesk",
    received: (gw, _, subHandle, messageId) => {
      const messages = gw.zendesk.conversationOf(subHandle)!.messages.filter((m) =>
        m.metadata?.["hbfMessageId"] === messageId
      )
      return {
        messages: messages.length,
        text: messages.map((m) => (m.content.type === "text" ? m.content.text : "")).join(""),
        asFile: messages.some((m) => m.content.type !== "text" && m.content.mediaUrl === attachment.url)
      }
    }
  }
]

/** A text the agent gets whole in one message where the provider does not split, and just too long for one where it does. */
const longText = ({ maxTextLength, splitsLongText }: Capabilities) =>
  "0123456789".repeat(Math.ceil((maxTextLength + 1) / 10)).slice(0, splitsLongText ? maxTextLength + 1 : maxTextLength)

describe.each(stores)("%s store", (store) => {
  it.live.each(providers)(
    "$alias: the capabilities and the 202's delivery are what the agent got",
    (provider) =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const { tenantId } = provider
        const answered = yield* gw.call("GET", `/tenants/${tenantId}/capabilities`)
        expect(answered.status).toBe(200)
        expect(answered.body).toEqual(providerCapabilities[provider.alias])
        const capabilities = answered.body as Capabilities

        const created = yield* gw.call("POST", "/requests", livechatRequest(tenantId, "carol"))
        expect(created.status).toBe(201)
        const sessionId = created.body.sessionId as string
        const message = {
          tenantId,
          subHandle: "carol",
          messageId: "m1",
          text: longText(capabilities),
          attachments: [attachment]
        }
        const sent = yield* gw.call("POST", "/messages", message)
        expect(sent.status).toBe(202)
        const { delivery } = sent.body as { delivery: { attachments?: string; parts: number } }

        const got = provider.received(gw, sessionId, "carol", "m1")
        expect(delivery.parts).toBe(got.messages)
        expect(got.messages).toBe(capabilities.splitsLongText ? 3 : 1)
        expect(delivery.attachments).toBe(capabilities.userAttachments)
        if (delivery.attachments === "native") {
          expect(got.asFile).toBe(true)
          expect(got.text).toBe(message.text)
        } else {
          expect(got.asFile).toBe(false)
          expect(got.text).toBe(`${message.text}\n${attachment.name}: ${attachment.url}`)
        }

        // A retry is answered as the first, from the stored result: nothing is sent again.
        const retried = yield* gw.call("POST", "/messages", message)
        expect(retried).toMatchObject({ status: 202, body: sent.body })
        expect(provider.received(gw, sessionId, "carol", "m1").messages).toBe(got.messages)

        // A text alone says nothing of attachments.
        const plain = yield* gw.call("POST", "/messages", {
          tenantId,
          subHandle: "carol",
          messageId: "m2",
          text: "thanks"
        })
        expect(plain.body.delivery).toEqual({ parts: 1 })
      }).pipe(Effect.scoped),
    30_000
  )
})

describe("a result stored before deliveries were kept", () => {
  it.live("on Redis, a retry of a message whose stored result has no delivery answers what the provider makes of it, sending nothing", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ store: "redis" })
      const tenantId = "demo-zendesk"
      const created = yield* gw.call("POST", "/requests", livechatRequest(tenantId, "dora"))
      const sessionId = created.body.sessionId as string
      const message = {
        tenantId,
        subHandle: "dora",
        messageId: "m1",
        text: "x".repeat(5_000),
        attachments: [attachment]
      }
      const sent = yield* gw.call("POST", "/messages", message)
      expect(sent.body.delivery).toEqual({ attachments: "native", parts: 3 })

      // The value an earlier version wrote: `f:{json}` with the provider message id and the fingerprint only.
      const redis = new Redis(testRedisUrl)
      yield* Effect.addFinalizer(() => Effect.sync(() => redis.disconnect()))
      const key = redisKeys(gw.config.redis!.prefix).messages(sessionId)
      const stored = JSON.parse((yield* Effect.promise(() => redis.hget(key, "m1")))!.slice(2))
      expect(stored.delivery).toEqual(sent.body.delivery)
      const { delivery: _, ...earlier } = stored
      yield* Effect.promise(() => redis.hset(key, "m1", `f:${JSON.stringify(earlier)}`))

      expect(yield* gw.call("POST", "/messages", message)).toMatchObject({ status: 202, body: sent.body })
      expect(gw.zendesk.conversationOf("dora")!.messages.filter((m) => m.metadata?.["hbfMessageId"] === "m1"))
        .toHaveLength(3)
    }).pipe(Effect.scoped))
})

describe("capabilities within the token's tenants", () => {
  it.live("another tenant's capabilities are 403 to a confined token and say nothing of its provider; an unknown tenant is 404", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const confined = yield* gw.token({ tenants: ["demo-helvia"] })
      const asConfined = (tenantId: string) =>
        gw.call("GET", `/tenants/${tenantId}/capabilities`, undefined, { authorization: `Bearer ${confined}` })
      expect((yield* asConfined("demo-helvia")).status).toBe(200)
      // The same answer whether the tenant exists or not, naming only the tenant asked for.
      expect(yield* asConfined("demo-zendesk")).toMatchObject({
        status: 403,
        body: { error: "Forbidden", message: "this token cannot act in tenant demo-zendesk" }
      })
      expect(yield* asConfined("nope")).toMatchObject({
        status: 403,
        body: { error: "Forbidden", message: "this token cannot act in tenant nope" }
      })
      expect((yield* gw.call("GET", "/tenants/nope/capabilities")).body).toMatchObject({ error: "TenantNotFound" })
    }).pipe(Effect.scoped))
})
