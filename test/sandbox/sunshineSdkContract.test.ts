/**
 * The Sunshine simulator (sandbox/zendesk/) against the vendor: driven by Zendesk's own client,
 * `sunshine-conversations-client` 14.1.0, for every call the gateway makes
 * (src/providers/zendesk/client.ts), and checked against the OpenAPI spec 17.12.1
 * (docs/PROVIDERS.md#zendesk-sunshine-conversations-v2). Each answer is read into the SDK's
 * models and must carry what they require (the generator makes a model's required fields its
 * constructor's parameters) and what the gateway's schemas read; what the spec refuses is refused
 * with its error shape; and webhook payloads, the simulator's and the spec's own examples, decode
 * with the gateway's schemas into the events the gateway should make of them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { createRequire } from "node:module"
import { makeZendeskSim, type ZendeskSimOptions } from "../../sandbox/zendesk/index.js"
import { mapWebhookEvent } from "../../src/providers/zendesk/mapper.js"
import {
  ConversationList,
  ConversationResponse,
  Message,
  MessageList,
  MessagePostResponse,
  UserResponse,
  WebhookBody,
  WebhookEvent
} from "../../src/providers/zendesk/schemas.js"
import { type Hit, makeReceiver, waitFor } from "./httpHelpers.js"

// ---------------------------------------------------------------------------------------
// the SDK (CommonJS, untyped)

/** An SDK model: a class whose constructor's parameters are the fields the spec requires. */
interface SdkModel {
  new(...args: Array<never>): object
  readonly constructFromObject: (data: unknown) => object
}

interface SdkApiClient {
  basePath: string
  readonly authentications: { readonly basicAuth: { username?: string; password?: string } }
}

/** A call the SDK refused or the server answered with an error: superagent's status and parsed body. */
interface SdkFailure {
  readonly status?: number
  readonly body?: unknown
}

interface SunshineSdk {
  readonly ApiClient: new() => SdkApiClient
  readonly [name: string]: any
}

const sdk = createRequire(import.meta.url)("sunshine-conversations-client") as SunshineSdk

/** The fields a model requires: its constructor's parameter names. */
const requiredBy = (model: SdkModel): ReadonlyArray<string> =>
  (/^function \w+\(([^)]*)\)/.exec(model.toString())?.[1] ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")

/** `value` carries every field `model` requires. */
const expectRequired = (model: SdkModel, value: unknown, what: string) => {
  expect(value, what).toBeTypeOf("object")
  for (const field of requiredBy(model)) {
    expect((value as Record<string, unknown>)[field], `${what}.${field} (required by the SDK)`).toBeDefined()
  }
}

/** `value` is what the SDK made of an answer: an instance of `model`, with every field it requires. */
const expectTyped = (model: SdkModel, value: unknown, what: string) => {
  expect(value, what).toBeInstanceOf(model)
  expectRequired(model, value, what)
}

/** What the SDK kept of an answer, as plain JSON: what the gateway's schemas get to read. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

/** The content model each message type must satisfy. */
const contentModel = (type: string): SdkModel =>
  type === "image" ? sdk["ImageMessage"] : type === "file" ? sdk["FileMessage"] : sdk["TextMessage"]

/** A message as the SDK read it: its author, content and source carry what their models require. */
const expectMessage = (message: unknown, what: string) => {
  expectTyped(sdk["Message"], message, what)
  const m = message as { author: unknown; content: { type: string }; source: unknown }
  expectTyped(sdk["Author"], m.author, `${what}.author`)
  expectRequired(contentModel(m.content.type), m.content, `${what}.content`)
  expectTyped(sdk["Source"], m.source, `${what}.source`)
  return Schema.decodeUnknownSync(Message)(plain(message))
}

// ---------------------------------------------------------------------------------------
// the simulator, driven by the SDK

const APP = "app-contract"
const KEY_ID = "key-contract"
const KEY_SECRET = "secret-contract"
const WEBHOOK_SECRET = "whsec-contract"

const AGENT_AVATAR = "https://cdn.example.com/agents/ann.png"

/** A simulator whose webhooks go to a receiver, and the SDK's APIs configured for it (Basic auth). */
const sdkAgainstSim = (options: Partial<ZendeskSimOptions> = {}) =>
  Effect.gen(function*() {
    const receiver = yield* makeReceiver({ path: "/events/zendesk" })
    const sim = yield* makeZendeskSim({
      appId: APP,
      keyId: KEY_ID,
      keySecret: KEY_SECRET,
      webhookSecret: WEBHOOK_SECRET,
      webhookUrl: receiver.url,
      retryDelaysMs: [],
      ...options
    })
    const client = new sdk.ApiClient()
    // The SDK appends `/v2/apps/{appId}/…` to its base path, as the gateway does to `apiBaseUrl`.
    client.basePath = sim.baseUrl
    client.authentications.basicAuth.username = KEY_ID
    client.authentications.basicAuth.password = KEY_SECRET
    return {
      sim,
      receiver,
      users: new sdk["UsersApi"](client),
      conversations: new sdk["ConversationsApi"](client),
      messages: new sdk["MessagesApi"](client),
      activities: new sdk["ActivitiesApi"](client),
      switchboard: new sdk["SwitchboardActionsApi"](client),
      switchboards: new sdk["SwitchboardsApi"](client)
    }
  })

type Apis = Effect.Effect.Success<ReturnType<typeof sdkAgainstSim>>

const sdkCall = <A = any>(call: () => Promise<A>) =>
  Effect.tryPromise({ try: call, catch: (failure) => failure as SdkFailure })

/** The answer to an SDK call that must be refused: its status and body. */
const refused = (call: () => Promise<unknown>) => Effect.flip(sdkCall(call))

/** A refusal in the spec's shape: `{ errors: [{ code, title }] }`. */
const expectSpecError = (failure: SdkFailure, status: number, code: string) => {
  expect(failure.status).toBe(status)
  expect(failure.body).toEqual({ errors: [{ code, title: expect.any(String) }] })
}

/** A user (created through the SDK) and its personal conversation, as the gateway starts a livechat. */
const startConversation = ({ conversations, users }: Apis, externalId: string) =>
  Effect.gen(function*() {
    const created = yield* sdkCall(() =>
      users.createUser(APP, { externalId, profile: { givenName: "Ann", surname: "Lee", email: "ann@example.com" } })
    )
    const userId: string = created.user.id
    const conversation = yield* sdkCall(() =>
      conversations.createConversation(APP, {
        type: "personal",
        participants: [{ userId }],
        metadata: { hbfSubscriber: externalId }
      })
    )
    return { userId, conversationId: conversation.conversation.id as string }
  })

/** Every webhook event the receiver got, in order. */
const receivedEvents = (hits: ReadonlyArray<Hit>) =>
  hits.flatMap((hit) => {
    const body = Schema.decodeUnknownSync(Schema.parseJson(WebhookBody))(hit.raw.toString("utf8"))
    expect(body.app.id).toBe(APP)
    return body.events.map((raw) => Schema.decodeUnknownSync(WebhookEvent)(raw))
  })

describe("the Sunshine SDK's models", () => {
  it("require what the spec requires (the constructor's parameters)", () => {
    expect(requiredBy(sdk["MessagePost"])).toEqual(["author", "content"])
    expect(requiredBy(sdk["ImageMessage"])).toEqual(["type", "mediaUrl"])
    expect(requiredBy(sdk["PassControlBody"])).toEqual(["switchboardIntegration"])
    expect(requiredBy(sdk["Message"])).toEqual([])
  })
})

describe("Sunshine simulator driven by sunshine-conversations-client 14.1.0", () => {
  it.scoped("users: create answers 201 UserResponse; the same externalId again is 409 conflict, a profile over the spec's limits 400; get by externalId finds it", () =>
    Effect.gen(function*() {
      const apis = yield* sdkAgainstSim()
      const created = yield* sdkCall(() =>
        apis.users.createUser(APP, {
          externalId: "sub-1",
          profile: { givenName: "Ann", surname: "Lee", locale: "en-US" }
        })
      )
      expectTyped(sdk["UserResponse"], created, "createUser")
      expectTyped(sdk["User"], created.user, "createUser.user")
      expect(created.user.externalId).toBe("sub-1")
      expect(created.user.profile).toMatchObject({ givenName: "Ann", surname: "Lee", locale: "en-US" })
      const userId = Schema.decodeUnknownSync(UserResponse)(plain(created)).user.id

      expectSpecError(yield* refused(() => apis.users.createUser(APP, { externalId: "sub-1" })), 409, "conflict")
      // the spec's limits on a profile (userCreateBody, profile)
      const refusedUsers: ReadonlyArray<readonly [string, unknown]> = [
        ["a givenName over 128 characters", { externalId: "sub-2", profile: { givenName: "g".repeat(129) } }],
        ["a surname over 128 characters", { externalId: "sub-2", profile: { surname: "s".repeat(129) } }],
        ["an email that is not one", { externalId: "sub-2", profile: { email: "ann at example.com" } }],
        ["a locale over 64 characters", { externalId: "sub-2", profile: { locale: "l".repeat(65) } }],
        ["an externalId over 1024 characters", { externalId: "x".repeat(1025) }],
        ["no externalId (required)", { profile: { givenName: "Ann" } }]
      ]
      for (const [what, body] of refusedUsers) {
        const failure = yield* refused(() => apis.users.createUser(APP, body))
        expect(failure.status, what).toBe(400)
        expect(failure.body, what).toEqual({ errors: [{ code: "bad_request", title: expect.any(String) }] })
      }
      yield* sdkCall(() =>
        apis.users.createUser(APP, {
          externalId: "sub-3",
          profile: {
            // JSON Schema's maxLength counts characters: 128 emoji (256 UTF-16 units) are within it.
            givenName: "😀".repeat(128),
            surname: "s".repeat(128),
            email: "ann@example.com",
            locale: "l".repeat(64)
          }
        })
      )

      // after a 409 the gateway reads the user by its externalId
      const read = yield* sdkCall(() => apis.users.getUser(APP, "sub-1"))
      expectTyped(sdk["UserResponse"], read, "getUser")
      expect(Schema.decodeUnknownSync(UserResponse)(plain(read)).user.id).toBe(userId)
      expectSpecError(yield* refused(() => apis.users.getUser(APP, "nobody")), 404, "user_not_found")

      expect(apis.sim.requests().map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        `POST /sc/v2/apps/${APP}/users 201`,
        `POST /sc/v2/apps/${APP}/users 409`,
        ...refusedUsers.map(() => `POST /sc/v2/apps/${APP}/users 400`),
        `POST /sc/v2/apps/${APP}/users 201`,
        `GET /sc/v2/apps/${APP}/users/sub-1 200`,
        `GET /sc/v2/apps/${APP}/users/nobody 404`
      ])
    }))
})

describe("Sunshine simulator driven by sunshine-conversations-client 14.1.0: conversations", () => {
  it.scoped("the app's switchboards (the gateway's probe of an open breaker) read as the SDK's models", () =>
    Effect.gen(function*() {
      const { switchboards } = yield* sdkAgainstSim()
      const listed = yield* sdkCall(() => switchboards.listSwitchboards(APP))
      expectTyped(sdk["SwitchboardListResponse"], listed, "listSwitchboards")
      expectTyped(sdk["Switchboard"], listed.switchboards[0], "listSwitchboards.switchboards[0]")
    }))

  it.scoped("the personal conversation: listed by filter[userId], created once (a second is 400), read by id", () =>
    Effect.gen(function*() {
      const apis = yield* sdkAgainstSim()
      const { conversations, users } = apis
      const created = yield* sdkCall(() => users.createUser(APP, { externalId: "sub-1" }))
      const userId: string = created.user.id

      const none = yield* sdkCall(() => conversations.listConversations(APP, { userId }, {}))
      expectTyped(sdk["ConversationListResponse"], none, "listConversations")
      expect(Schema.decodeUnknownSync(ConversationList)(plain(none)).conversations).toEqual([])

      const made = yield* sdkCall(() =>
        conversations.createConversation(APP, {
          type: "personal",
          participants: [{ userId }],
          metadata: { hbfSubscriber: "sub-1" }
        })
      )
      expectTyped(sdk["ConversationResponse"], made, "createConversation")
      expectTyped(sdk["Conversation"], made.conversation, "createConversation.conversation")
      expectTyped(
        sdk["SwitchboardIntegrationWebhook"],
        made.conversation.activeSwitchboardIntegration,
        "conversation.activeSwitchboardIntegration"
      )
      const conversation = Schema.decodeUnknownSync(ConversationResponse)(plain(made)).conversation
      expect(conversation).toMatchObject({
        type: "personal",
        activeSwitchboardIntegration: {
          id: apis.sim.botIntegration.id,
          name: "hbf-lcg",
          integrationId: apis.sim.botIntegration.integrationId,
          integrationType: "custom"
        }
      })
      expect(made.conversation.metadata).toEqual({ hbfSubscriber: "sub-1" })

      // one personal conversation per user (multi-conversations off): the gateway lists it again
      expectSpecError(
        yield* refused(() => conversations.createConversation(APP, { type: "personal", participants: [{ userId }] })),
        400,
        "bad_request"
      )
      const listed = yield* sdkCall(() => conversations.listConversations(APP, { userId }, {}))
      expectTyped(sdk["Conversation"], listed.conversations[0], "listConversations.conversations[0]")
      expect(Schema.decodeUnknownSync(ConversationList)(plain(listed)).conversations.map((c) => c.id)).toEqual([
        conversation.id
      ])

      const read = yield* sdkCall(() => conversations.getConversation(APP, conversation.id))
      expectTyped(sdk["ConversationResponse"], read, "getConversation")
      expect(Schema.decodeUnknownSync(ConversationResponse)(plain(read)).conversation).toEqual(conversation)

      expectSpecError(
        yield* refused(() => conversations.getConversation(APP, "ffffffffffffffffffffffff")),
        404,
        "conversation_not_found"
      )
      expectSpecError(
        yield* refused(() =>
          conversations.createConversation(APP, { type: "personal", participants: [{ userExternalId: "nobody" }] })
        ),
        404,
        "user_not_found"
      )
      // the SDK writes the filter as the gateway does: filter[userId]
      const lists = apis.sim.requests().filter((r) => r.method === "GET" && r.path.endsWith("/conversations"))
      expect(lists.map((r) => new URLSearchParams(r.query).get("filter[userId]"))).toEqual([userId, userId])
    }))
})

describe("Sunshine simulator driven by sunshine-conversations-client 14.1.0: messages", () => {
  it.scoped("posted as the business and as the user (text, image, file) they read back whole, newest page first, then page[before]", () =>
    Effect.gen(function*() {
      const apis = yield* sdkAgainstSim({ pageSize: 2 })
      const { messages } = apis
      const { conversationId, userId } = yield* startConversation(apis, "sub-1")
      const post = (body: unknown) =>
        Effect.map(sdkCall(() => messages.postMessage(APP, conversationId, body)), (answer) => {
          expectTyped(sdk["MessagePostResponse"], answer, "postMessage")
          const decoded = Schema.decodeUnknownSync(MessagePostResponse)(plain(answer))
          expect(decoded.messages).toHaveLength(1)
          return expectMessage(answer.messages[0], "postMessage.messages[0]")
        })

      // the gateway's handover note
      const note = yield* post({
        author: { type: "business", displayName: "Acme Support" },
        content: { type: "text", text: "Ann Lee asks for an agent." },
        metadata: { hbfSessionId: "s-1" }
      })
      expect(note).toMatchObject({
        author: { type: "business", displayName: "Acme Support" },
        content: { type: "text", text: "Ann Lee asks for an agent." },
        source: { type: "api:conversations" },
        metadata: { hbfSessionId: "s-1" }
      })

      // a user message in parts: text, image, file (mediaUrl and altText only; the file without altText)
      const author = { type: "user", userId }
      const text = yield* post({
        author,
        content: { type: "text", text: "hello" },
        metadata: { hbfMessageId: "m-1", hbfPart: 0 }
      })
      expect(text).toMatchObject({ author: { type: "user", userId }, metadata: { hbfMessageId: "m-1", hbfPart: 0 } })
      const longName = `${"p".repeat(124)}.png`
      const image = yield* post({
        author,
        content: { type: "image", mediaUrl: `https://files.example.com/u/${longName}`, altText: longName },
        metadata: { hbfMessageId: "m-1", hbfPart: 1 }
      })
      // mediaType is Sunshine's own (read-only): set on the stored message
      expect(image.content).toEqual({
        type: "image",
        mediaUrl: `https://files.example.com/u/${longName}`,
        altText: longName,
        mediaType: "image/png"
      })
      const file = yield* post({
        author,
        content: { type: "file", mediaUrl: "https://files.example.com/u/report.pdf" },
        metadata: { hbfMessageId: "m-1", hbfPart: 2 }
      })
      // without altText Sunshine saves the file name as one
      expect(file.content).toEqual({
        type: "file",
        mediaUrl: "https://files.example.com/u/report.pdf",
        altText: "report.pdf",
        mediaType: "application/pdf"
      })

      const newest = yield* sdkCall(() => messages.listMessages(APP, conversationId, {}))
      expectTyped(sdk["MessageListResponse"], newest, "listMessages")
      expectTyped(sdk["Meta"], newest.meta, "listMessages.meta")
      const newestPage = Schema.decodeUnknownSync(MessageList)(plain(newest))
      expect(newestPage.meta).toEqual({ hasMore: true, beforeCursor: image.id })
      expect(newest.messages.map((m: unknown, i: number) => expectMessage(m, `listMessages.messages[${i}]`).id))
        .toEqual([image.id, file.id])

      const older = yield* sdkCall(() => messages.listMessages(APP, conversationId, { page: { before: image.id } }))
      expectTyped(sdk["MessageListResponse"], older, "listMessages page[before]")
      expect(Schema.decodeUnknownSync(MessageList)(plain(older)).meta.hasMore).toBe(false)
      expect(older.messages.map((m: unknown, i: number) => expectMessage(m, `older.messages[${i}]`).id)).toEqual([
        note.id,
        text.id
      ])
      expectSpecError(
        yield* refused(() => messages.listMessages(APP, "ffffffffffffffffffffffff", {})),
        404,
        "not_found"
      )
      // the SDK writes the cursor as the gateway does: page[before]
      const pages = apis.sim.requests().filter((r) =>
        r.method === "GET" && r.path.endsWith(`/${conversationId}/messages`)
      )
      expect(pages.map((r) => new URLSearchParams(r.query).get("page[before]"))).toEqual([null, image.id])
    }))

  it.scoped("what the spec refuses is refused with its error shape, and nothing of it is stored", () =>
    Effect.gen(function*() {
      const apis = yield* sdkAgainstSim()
      const { messages } = apis
      const { conversationId, userId } = yield* startConversation(apis, "sub-1")
      const author = { type: "user", userId }
      const mediaUrl = "https://files.example.com/u/photo.png"
      const refusedPosts: ReadonlyArray<readonly [string, unknown]> = [
        ["an image with the read-only mediaType", {
          author,
          content: { type: "image", mediaUrl, mediaType: "image/png" }
        }],
        ["a file with the read-only mediaSize", { author, content: { type: "file", mediaUrl, mediaSize: 1024 } }],
        ["an altText over 128 characters", { author, content: { type: "image", mediaUrl, altText: "a".repeat(129) } }],
        ["a text over 4096 characters", { author, content: { type: "text", text: "t".repeat(4097) } }],
        ["no content (required)", { author }],
        ["an image without mediaUrl (required)", { author, content: { type: "image" } }],
        ["nested metadata (flat only)", { author, content: { type: "text", text: "hi" }, metadata: { a: { b: 1 } } }],
        [
          "two subtypes (maxItems 1)",
          { author: { type: "business", subtypes: ["AI", "activity"] }, content: { type: "text", text: "hi" } }
        ],
        [
          "the subtype agent (Sunshine's own, in answers only)",
          { author: { type: "business", subtypes: ["agent"] }, content: { type: "text", text: "hi" } }
        ]
      ]
      for (const [what, body] of refusedPosts) {
        const failure = yield* refused(() => messages.postMessage(APP, conversationId, body))
        expect(failure.status, what).toBe(400)
        expect(failure.body, what).toEqual({ errors: [{ code: "bad_request", title: expect.any(String) }] })
      }
      const altText = yield* refused(() =>
        messages.postMessage(APP, conversationId, {
          author,
          content: { type: "image", mediaUrl, altText: "a".repeat(129) }
        })
      )
      expect(altText.body).toMatchObject({ errors: [{ title: expect.stringContaining("altText") }] })
      // 128 characters is within the limit
      yield* sdkCall(() =>
        messages.postMessage(APP, conversationId, {
          author,
          content: { type: "image", mediaUrl, altText: "a".repeat(128) }
        })
      )
      expectSpecError(
        yield* refused(() =>
          messages.postMessage(APP, "ffffffffffffffffffffffff", { author, content: { type: "text", text: "hi" } })
        ),
        404,
        "conversation_not_found"
      )
      expect(apis.sim.conversations()[0]!.messages.map((m) => m.content)).toEqual([
        { type: "image", mediaUrl, altText: "a".repeat(128), mediaType: "image/png" }
      ])
    }))
})

/** Each received event with what the gateway makes of it. */
const mappedEvents = (hits: ReadonlyArray<Hit>) =>
  receivedEvents(hits).map((event) => ({ event, mapped: mapWebhookEvent(event) }))

describe("Sunshine simulator driven by sunshine-conversations-client 14.1.0: activity and switchboard", () => {
  it.scoped("activity: a business author may type, a user author only mark read; the typing comes back as conversation:typing, each read as conversation:read (agent.read for the business's only)", () =>
    Effect.gen(function*() {
      const apis = yield* sdkAgainstSim()
      const { activities } = apis
      const { conversationId, userId } = yield* startConversation(apis, "sub-1")
      yield* sdkCall(() =>
        activities.postActivity(APP, conversationId, {
          author: { type: "business", displayName: "Acme" },
          type: "typing:start"
        })
      )
      yield* sdkCall(() =>
        activities.postActivity(APP, conversationId, { author: { type: "user", userId }, type: "conversation:read" })
      )
      expectSpecError(
        yield* refused(() =>
          activities.postActivity(APP, conversationId, { author: { type: "user", userId }, type: "typing:start" })
        ),
        400,
        "bad_request"
      )
      expectSpecError(
        yield* refused(() => activities.postActivity(APP, conversationId, { author: { type: "business" } })),
        400,
        "bad_request"
      )
      yield* sdkCall(() =>
        activities.postActivity(APP, conversationId, {
          author: { type: "business", displayName: "Acme" },
          type: "conversation:read"
        })
      )
      yield* waitFor("the webhooks", () => receivedEvents(apis.receiver.hits).length === 3)
      const events = receivedEvents(apis.receiver.hits)
      expect(events.map((e) => e.type)).toEqual(["conversation:typing", "conversation:read", "conversation:read"])
      for (const read of events.slice(1)) {
        const model = sdk["ConversationReadEvent"].constructFromObject(read) as {
          payload: { activity: { author: unknown } }
        }
        expectRequired(sdk["AuthorWebhook"], model.payload.activity.author, "activity.author")
      }
      // The user's read (what POST /read posts) is nobody's agent.read (ignored outright); the business's is.
      expect(mapWebhookEvent(events[1]!)).toEqual({ _tag: "Ignored" })
      expect(mapWebhookEvent(events[2]!)).toMatchObject({
        _tag: "Mapped",
        events: [{ id: `zendesk:event:${events[2]!.id}`, type: "agent.read", data: { agent: { name: "Acme" } } }]
      })
      const typing = sdk["ConversationTypingEvent"].constructFromObject(events[0]) as {
        payload: { activity: { author: unknown } }
      }
      expectRequired(sdk["AuthorWebhook"], typing.payload.activity.author, "activity.author")
      expect(events[0]!.payload).toMatchObject({
        conversation: { id: conversationId },
        activity: { type: "typing:start", author: { type: "business", displayName: "Acme" } }
      })
    }))

  it.scoped("pass, release, offer and accept control as the gateway and the agent workspace do; every webhook reads as the gateway expects", () =>
    Effect.gen(function*() {
      const apis = yield* sdkAgainstSim()
      const { conversations, messages, sim, switchboard } = apis
      const { conversationId } = yield* startConversation(apis, "sub-1")
      const holder = Effect.map(
        sdkCall(() => conversations.getConversation(APP, conversationId)),
        (answer) => Schema.decodeUnknownSync(ConversationResponse)(plain(answer)).conversation
      )

      // the gateway's handover: its note, then control to the agent workspace with the ticket's metadata
      const note = yield* sdkCall(() =>
        messages.postMessage(APP, conversationId, {
          author: { type: "business", displayName: "Acme Support" },
          content: { type: "text", text: "Ann Lee asks for an agent." }
        })
      )
      const passed = yield* sdkCall(() =>
        switchboard.passControl(APP, conversationId, {
          switchboardIntegration: "zd-agentWorkspace",
          metadata: { first_message_id: note.messages[0].id, hbfSessionId: "s-1", "metadata.plan": "gold" }
        })
      )
      expect(passed).toBeDefined()
      expect((yield* holder).activeSwitchboardIntegration).toEqual(sim.agentWorkspace)

      // the agent answers with an image and types without being named
      yield* sim.agentSay(
        conversationId,
        { type: "image", mediaUrl: "https://files.example.com/a/screen.png", altText: "screen.png" },
        { displayName: "Ann Agent", avatarUrl: AGENT_AVATAR }
      )
      yield* sim.agentTyping(conversationId, true, { withoutAuthor: true })

      // the user's end: the SDK's releaseControl carries no body (the spec's metadata is optional)
      yield* sdkCall(() => switchboard.releaseControl(APP, conversationId))
      const released = yield* holder
      expect(released.activeSwitchboardIntegration ?? null).toBeNull()
      expect(released.pendingSwitchboardIntegration ?? null).toBeNull()

      // an offer the agent workspace accepts, then the agent closes the ticket
      yield* sdkCall(() =>
        switchboard.offerControl(APP, conversationId, { switchboardIntegration: "zd:agentWorkspace" })
      )
      expect((yield* holder).pendingSwitchboardIntegration).toEqual(sim.agentWorkspace)
      yield* sdkCall(() => switchboard.acceptControl(APP, conversationId, {}))
      expect((yield* holder).activeSwitchboardIntegration).toEqual(sim.agentWorkspace)
      yield* sim.closeTicket(conversationId)

      // what the spec refuses
      const refusals: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
        [
          "passControl without switchboardIntegration (required)",
          () => switchboard.passControl(APP, conversationId, {})
        ],
        [
          "passControl to an integration the app does not have",
          () => switchboard.passControl(APP, conversationId, { switchboardIntegration: "nobody" })
        ],
        [
          "passControl with metadata over 4 KB",
          () =>
            switchboard.passControl(APP, conversationId, {
              switchboardIntegration: "next",
              metadata: { blob: "x".repeat(4_100) }
            })
        ],
        ["acceptControl with nothing offered", () => switchboard.acceptControl(APP, conversationId, {})]
      ]
      for (const [what, call] of refusals) {
        const failure = yield* refused(call)
        expect(failure.status, what).toBe(400)
        expect(failure.body, what).toEqual({ errors: [{ code: "bad_request", title: expect.any(String) }] })
      }
      expectSpecError(
        yield* refused(() => switchboard.releaseControl(APP, "ffffffffffffffffffffffff")),
        404,
        "conversation_not_found"
      )

      yield* sim.awaitWebhooks()
      yield* waitFor("the webhooks", () => receivedEvents(apis.receiver.hits).length === 8)
      const seen = mappedEvents(apis.receiver.hits)
      expect(seen.map(({ event }) => event.type)).toEqual([
        "conversation:message",
        "switchboard:passControl",
        "conversation:message",
        "conversation:typing",
        "switchboard:releaseControl",
        "switchboard:offerControl",
        "switchboard:acceptControl",
        "switchboard:releaseControl"
      ])
      const [ownNote, handover, agentImage, typing, userEnd, offer, accept, ticketClosed] = seen.map((s) => s!)

      // the gateway's own note comes back and is not relayed
      expect(ownNote.mapped).toEqual({ _tag: "Mapped", conversationId, events: [], recheck: false })
      // control to the agent workspace (the gateway's own handover): nothing to look at
      expect(handover.event.payload).toMatchObject({
        conversation: { id: conversationId, activeSwitchboardIntegration: sim.agentWorkspace },
        metadata: { first_message_id: note.messages[0].id, hbfSessionId: "s-1", "metadata.plan": "gold" }
      })
      expect(handover.mapped).toEqual({ _tag: "Mapped", conversationId, events: [], recheck: false })

      // the agent's image: its author and content carry what the SDK's webhook models require
      const message = sdk["ConversationMessageEvent"].constructFromObject(agentImage.event) as {
        payload: { message: { author: unknown; content: unknown; source: unknown } }
      }
      expectRequired(sdk["AuthorWebhook"], message.payload.message.author, "message.author")
      expectRequired(sdk["ImageMessage"], message.payload.message.content, "message.content")
      expectRequired(sdk["Source"], message.payload.message.source, "message.source")
      const agent = { name: "Ann Agent", avatarUrl: AGENT_AVATAR }
      expect(agentImage.mapped).toMatchObject({
        _tag: "Mapped",
        conversationId,
        events: [
          { type: "agent.joined", data: { agent } },
          {
            type: "agent.message",
            data: {
              agent,
              attachments: [{
                url: "https://files.example.com/a/screen.png",
                contentType: "image/png",
                name: "screen.png"
              }]
            }
          }
        ]
      })
      // unnamed typing while the agent workspace holds the conversation is the agent's
      expect(typing.mapped).toEqual({
        _tag: "Mapped",
        conversationId,
        events: [{
          id: `zendesk:event:${typing.event.id}`,
          occurredAt: typing.event.createdAt,
          type: "agent.typing",
          data: { typing: true }
        }],
        recheck: false
      })

      // released: the payload omits activeSwitchboardIntegration; the backstop looks at once
      expect(userEnd.event.payload).toEqual({ conversation: { id: conversationId, type: "personal" } })
      expect(userEnd.mapped).toEqual({ _tag: "Mapped", conversationId, events: [], recheck: true })

      // offered: the pending integration is named; the gateway has nothing to do with an offer
      expect(offer.event.payload).toMatchObject({
        conversation: { pendingSwitchboardIntegration: sim.agentWorkspace }
      })
      expect(offer.mapped).toEqual({ _tag: "Ignored" })
      // accepted by the agent workspace: an agent joined (the payload does not say who)
      expect(accept.mapped).toMatchObject({ _tag: "Mapped", events: [{ type: "agent.joined" }] })
      // the ticket closed: released with its reason, and the backstop decides the end
      expect(ticketClosed.event.payload).toEqual({
        conversation: { id: conversationId, type: "personal" },
        reason: "ticketClosed"
      })
      expect(ticketClosed.mapped).toEqual({ _tag: "Mapped", conversationId, events: [], recheck: true })
    }))
})

// ---------------------------------------------------------------------------------------
// the spec's webhook examples (openapi.yaml 17.12.1, components/examples), read as the gateway reads them

const SPEC_APP = { id: "5ebee0975ac5304b664a12fa" }
const SPEC_WEBHOOK = { id: "5f4eaef81e3dcc117c7ba48a", version: "v2" }
const SPEC_EVENT = { id: "5f74a0d52b5315fc007e798a", createdAt: "2020-09-30T15:14:29.834Z" }
const SPEC_CONVERSATION_ID = "f52b01137aa6c250bc7251fa"
/** The examples' switchboard integration in control: a bot's. */
const specBot = {
  id: "5eecde2dcdbffb08f5c3ed37",
  name: "bot",
  integrationId: "5f11a650e4e987667c2051d1",
  integrationType: "custom"
}
/** Zendesk's agent workspace as a conversation names it (docs/PROVIDERS.md#switchboard). */
const specWorkspace = {
  id: "5ef21b86e933b7355c11c605",
  name: "zd-agentWorkspace",
  integrationId: "5ef21b86e933b7355c11c604",
  integrationType: "zd:agentWorkspace"
}

const specBody = (type: string, payload: unknown) => ({
  app: SPEC_APP,
  webhook: SPEC_WEBHOOK,
  events: [{ ...SPEC_EVENT, type, payload }]
})

const specConversation = (active?: unknown) => ({
  id: SPEC_CONVERSATION_ID,
  type: "personal",
  ...(active !== undefined ? { activeSwitchboardIntegration: active } : {})
})

/** examples/conversationMessageEvent: a user's message from Telegram. */
const specUserMessage = {
  id: "5f74c7d84a146f3abd72af1d",
  received: "2020-09-30T18:00:56.820Z",
  author: {
    userId: "26508c10541a4b0ff472e5e2",
    avatarUrl: "https://s3.amazonaws.com/avatar.jpg",
    displayName: "Steve Rogers",
    type: "user",
    user: { id: "26508c10541a4b0ff472e5e2", externalId: "912382197", authenticated: true }
  },
  content: { type: "text", text: "hello" },
  source: {
    integrationId: "5ec69c6e12dda33be985cb1a",
    originalMessageId: "374",
    originalMessageTimestamp: "2020-09-30T18:00:56.000Z",
    type: "telegram"
  }
}

/** The same message as an agent's in the agent workspace (docs/PROVIDERS.md#sunshine-webhooks), with `content`. */
const agentMessage = (content: Record<string, unknown>) => ({
  id: "5f74c7d84a146f3abd72af1e",
  received: "2020-09-30T18:01:02.120Z",
  author: { type: "business", displayName: "Steve Rogers", avatarUrl: "https://s3.amazonaws.com/avatar.jpg" },
  content,
  source: { type: "zd:agentWorkspace", integrationId: specWorkspace.integrationId }
})

/** What the gateway makes of a webhook body: each event decoded with its schemas and mapped. */
const gatewayReads = (body: unknown) =>
  Schema.decodeUnknownSync(Schema.parseJson(WebhookBody))(JSON.stringify(body)).events.map((raw) =>
    mapWebhookEvent(Schema.decodeUnknownSync(WebhookEvent)(raw))
  )

/** A message event's message, checked against the SDK's webhook models, as the gateway reads it. */
const agentMessageEvents = (message: ReturnType<typeof agentMessage>) => {
  const body = specBody("conversation:message", { conversation: specConversation(specWorkspace), message })
  const typed = sdk["ConversationMessageEvent"].constructFromObject(body.events[0]) as {
    payload: { message: { author: unknown; content: { type: string }; source: unknown } }
  }
  expectRequired(sdk["AuthorWebhook"], typed.payload.message.author, "message.author")
  expectRequired(contentModel(typed.payload.message.content.type), typed.payload.message.content, "message.content")
  expectRequired(sdk["Source"], typed.payload.message.source, "message.source")
  return gatewayReads(body)
}

const steve = { name: "Steve Rogers", avatarUrl: "https://s3.amazonaws.com/avatar.jpg" }
const typingId = `zendesk:event:${SPEC_EVENT.id}`

describe("Sunshine webhook payloads as the spec gives them, read with the gateway's schemas", () => {
  it("conversation:message: the spec's own example (a user's) is never relayed", () => {
    expect(
      gatewayReads(
        specBody("conversation:message", { conversation: specConversation(specBot), message: specUserMessage })
      )
    )
      .toEqual([{ _tag: "Mapped", conversationId: SPEC_CONVERSATION_ID, events: [], recheck: false }])
  })

  it("conversation:message from the agent workspace: the named agent joins and speaks; image and file reach the bot as attachments", () => {
    const text = agentMessage({ type: "text", text: "Hi, Steve here" })
    expect(agentMessageEvents(text)).toMatchObject([{
      _tag: "Mapped",
      conversationId: SPEC_CONVERSATION_ID,
      recheck: false,
      events: [
        {
          id: `zendesk:message:${text.id}:joined`,
          occurredAt: text.received,
          type: "agent.joined",
          data: { agent: steve }
        },
        {
          id: `zendesk:message:${text.id}`,
          occurredAt: text.received,
          type: "agent.message",
          data: { text: "Hi, Steve here", agent: steve }
        }
      ]
    }])

    const image = agentMessage({
      type: "image",
      mediaUrl: "https://example.zendesk.com/sc/attachments/v2/screen.png",
      mediaType: "image/png",
      mediaSize: 48_213,
      altText: "screen.png",
      text: "this screen?"
    })
    const [imageRead] = agentMessageEvents(image)
    expect(imageRead).toMatchObject({
      _tag: "Mapped",
      events: [{ type: "agent.joined" }, {
        type: "agent.message",
        data: {
          text: "this screen?",
          agent: steve,
          attachments: [{
            url: "https://example.zendesk.com/sc/attachments/v2/screen.png",
            contentType: "image/png",
            name: "screen.png",
            size: 48_213
          }]
        }
      }]
    })

    const file = agentMessage({
      type: "file",
      mediaUrl: "https://example.zendesk.com/sc/attachments/v2/terms.pdf",
      mediaType: "application/pdf",
      mediaSize: 1_024,
      altText: "terms.pdf"
    })
    const [fileRead] = agentMessageEvents(file)
    expect(fileRead).toMatchObject({
      _tag: "Mapped",
      events: [{ type: "agent.joined" }, {
        type: "agent.message",
        data: {
          attachments: [{
            url: "https://example.zendesk.com/sc/attachments/v2/terms.pdf",
            contentType: "application/pdf",
            name: "terms.pdf",
            size: 1_024
          }]
        }
      }]
    })
    // no caption, no text
    expect(fileRead?._tag === "Mapped" ? fileRead.events[1]?.data : undefined).not.toHaveProperty("text")
  })

  it("conversation:typing: the spec's example (a user typing) is nothing; a business author's is the agent's; without author, the agent's only while the workspace holds the conversation", () => {
    const typing = (active: unknown, activity: unknown) =>
      gatewayReads(specBody("conversation:typing", { conversation: specConversation(active), activity }))
    // examples/conversationTypingEvent
    expect(typing(specBot, {
      type: "typing:start",
      author: {
        type: "user",
        userId: "7283cdd6f586679a5fc43cfb",
        user: { id: "7283cdd6f586679a5fc43cfb", authenticated: false }
      },
      source: { type: "web", integrationId: "5ecff63ffc3ab25f4561c8a0" }
    })).toEqual([{ _tag: "Mapped", conversationId: SPEC_CONVERSATION_ID, events: [], recheck: false }])

    const business = { type: "business", displayName: "Steve Rogers", avatarUrl: "https://s3.amazonaws.com/avatar.jpg" }
    expect(typing(specWorkspace, { type: "typing:start", author: business })).toMatchObject([{
      _tag: "Mapped",
      events: [
        { id: `${typingId}:joined`, type: "agent.joined", data: { agent: steve } },
        { id: typingId, occurredAt: SPEC_EVENT.createdAt, type: "agent.typing", data: { typing: true } }
      ]
    }])
    expect(typing(specWorkspace, { type: "typing:stop", author: business })).toMatchObject([{
      events: [{ type: "agent.typing", data: { typing: false } }]
    }])
    // `author` (like every field of the activity) is optional in the spec
    expect(typing(specWorkspace, { type: "typing:start" })).toEqual([{
      _tag: "Mapped",
      conversationId: SPEC_CONVERSATION_ID,
      events: [{ id: typingId, occurredAt: SPEC_EVENT.createdAt, type: "agent.typing", data: { typing: true } }],
      recheck: false
    }])
    expect(typing(specBot, { type: "typing:start" })).toEqual([
      { _tag: "Mapped", conversationId: SPEC_CONVERSATION_ID, events: [], recheck: false }
    ])
  })

  it("switchboard events: control leaving the workspace is looked at again, an accept by the workspace is an agent's join", () => {
    const switchboard = (type: string, payload: unknown) => gatewayReads(specBody(`switchboard:${type}`, payload))
    const unchanged = { _tag: "Mapped", conversationId: SPEC_CONVERSATION_ID, events: [], recheck: false }
    const lookAgain = { _tag: "Mapped", conversationId: SPEC_CONVERSATION_ID, events: [], recheck: true }
    // examples/switchboardPassControlEvent: control went to a bot
    expect(switchboard("passControl", { conversation: specConversation(specBot) })).toEqual([lookAgain])
    // the gateway's own handover coming back
    expect(switchboard("passControl", {
      conversation: specConversation(specWorkspace),
      metadata: { first_message_id: "5f74c7d84a146f3abd72af1d", hbfSessionId: "s-1" }
    })).toEqual([unchanged])
    // the agent passing it back with a reason (the spec's passControl carries one too)
    expect(switchboard("passControl", { conversation: specConversation(specBot), reason: "ticketClosed" })).toEqual([
      lookAgain
    ])
    // examples/switchboardAcceptControlEvent: a bot accepted
    expect(switchboard("acceptControl", { conversation: specConversation(specBot) })).toEqual([unchanged])
    expect(switchboard("acceptControl", { conversation: specConversation(specWorkspace) })).toMatchObject([{
      _tag: "Mapped",
      events: [{ id: typingId, occurredAt: SPEC_EVENT.createdAt, type: "agent.joined" }]
    }])
    // examples/switchboardReleaseControlEvent: nobody holds the conversation (activeSwitchboardIntegration omitted)
    expect(switchboard("releaseControl", { conversation: specConversation() })).toEqual([lookAgain])
    expect(switchboard("releaseControl", {
      conversation: specConversation(),
      metadata: { hbfSessionId: "s-1", hbfEndReason: "user" },
      reason: "ticketClosed"
    })).toEqual([lookAgain])
  })

  it("conversation:remove and conversation:leave (the spec's examples) are not the gateway's business", () => {
    // examples/conversationRemoveEvent, examples/conversationLeaveEvent (an sdkGroup conversation)
    const group = { ...specConversation(specBot), type: "sdkGroup" }
    expect(gatewayReads(specBody("conversation:remove", { conversation: group }))).toEqual([{ _tag: "Ignored" }])
    expect(gatewayReads(specBody("conversation:leave", {
      conversation: group,
      user: { id: "26508c10541a4b0ff472e5e2", externalId: "912382197", authenticated: true }
    }))).toEqual([{ _tag: "Ignored" }])
  })
})
