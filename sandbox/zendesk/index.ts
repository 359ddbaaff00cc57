/**
 * Zendesk Sunshine Conversations v2 simulator
 * (docs/PROVIDERS.md#zendesk-sunshine-conversations-v2): app-key auth (Basic or an HS256 JWT),
 * users, personal conversations, messages with their cursor paging, activities, the switchboard
 * (the bot's integration and the Zendesk agent workspace), webhooks for every change with the
 * real retry rules, a scriptable agent workspace and fault injection. Errors use the Sunshine
 * body `{ errors: [{ code, title }] }`.
 *
 * API routes (base `/sc/v2/apps/{appId}`, `baseUrl` = `http://127.0.0.1:PORT/sc`; the legacy
 * `api.smooch.io` layout `/v2/apps/{appId}` answers too):
 *   POST {base}/users                                        { externalId, profile?, metadata? } -> 201 { user }; 409 conflict
 *   GET  {base}/users/{userIdOrExternalId}                   -> 200 { user }
 *   POST {base}/conversations                                { type: "personal", participants: [{ userId | userExternalId }], metadata? } -> 201
 *   GET  {base}/conversations?filter[userId]=… | filter[userExternalId]=…   -> 200 { conversations, meta, links }
 *   GET  {base}/conversations/{conversationId}               -> 200 { conversation }
 *   POST {base}/conversations/{id}/messages                  -> 201 { messages: [Message] }; 423 at the message limit
 *   GET  {base}/conversations/{id}/messages?page[before]=… | page[after]=…
 *   POST {base}/conversations/{id}/activity                  -> 200 {}
 *   POST {base}/conversations/{id}/passControl | offerControl   { switchboardIntegration: id | name | integrationType | "next", metadata? }
 *   POST {base}/conversations/{id}/acceptControl | releaseControl   { metadata? }
 *   GET  {base}/switchboards                                  -> 200 { switchboards: [{ id, enabled, defaultSwitchboardIntegrationId }] }
 * Sandbox routes (no auth, JSON whatever the Content-Type, for curl; errors `{ error, message }`):
 *   POST /sim/conversations/{conversationId}/accept|say|typing|read|close|passBack|transferToEmail
 *        bodies: accept {displayName?, avatarUrl?}; say {text?, attachments?: [{url, contentType, name?}],
 *        displayName?, avatarUrl?} (the text, then each attachment an image or file message: -> { messages });
 *        typing {start?: boolean (default true), withoutAuthor?: boolean}
 *   GET  /sim                       the agent's actions with example bodies (JSON)
 *   POST /sim/fail                  { n, status: 429|500|503, retryAfterSeconds? }
 *   POST /sim/unreachable           { unreachable }: every API call answers 503, empty, while true
 *   POST /sim/webhooks/drop         { n, type? }   (only events of that type count when given)
 *   POST /sim/webhooks/duplicate    { n }
 *   POST /sim/webhooks/target       { url? }       (no url: stop delivering)
 *   GET  /sim/conversations | /sim/users | /sim/requests | /sim/webhooks
 *
 * Choices where docs/PROVIDERS.md is silent:
 *   - A valid key used with another appId in the path answers 401 unauthorized (an app key is only
 *     good for its own app; the simulator hosts one app).
 *   - Error codes: 400 bad_request, 401 unauthorized, 404 not_found, 409 conflict, 413 payload_too_large,
 *     423 locked, 429 too_many_requests, 500 internal_error, 503 service_unavailable; a missing user or
 *     conversation is 404 user_not_found / conversation_not_found, as in the spec's examples (which give the
 *     generic not_found for listing an unknown conversation's messages).
 *   - Body limit: 100 kB = 102,400 bytes (body-parser's "100kb"), checked before anything else in the body.
 *     A non-empty body whose Content-Type is not JSON is 400 bad_request; an empty body reads as `{}`.
 *   - Metadata (conversation, message, switchboard) is flat (string, number, boolean values) and at most
 *     4 KB serialized, else 400; `null` means none.
 *   - A user is created within the spec's limits: externalId 1 to 1024 characters; profile givenName, surname
 *     and email (an address with one @) at most 128 characters, locale 64, avatarUrl an http(s) URL of at most
 *     2048; else 400.
 *   - Unknown users named in `participants` or in a list filter answer 404 user_not_found; a user message
 *     author who is not the conversation's participant (or does not exist) answers 400.
 *   - Only personal conversations with exactly one participant, and only text/image/file content, are
 *     simulated: other types answer 400.
 *   - Paging: an empty page (a cursor at either end) has no cursors or links and hasMore false.
 *   - offerControl to the integration already in control, and acceptControl with nothing offered, answer 400;
 *     an unknown switchboardIntegration in a body answers 400. passControl to the active one is allowed.
 *   - releaseControl (the API's, and the agent's close / transferToEmail) nullifies the switchboard state, as the
 *     spec says: no integration is active or pending; the conversation shows `activeSwitchboardIntegration: null`
 *     and webhook payloads omit it. Nothing takes control again until a passControl (or an offer accepted);
 *     "next" with none active names the default integration (the bot's).
 *   - Message content is what the spec lets a request write: text (<= 4096) with actions?; image with mediaUrl,
 *     altText? (<= 128), text?, actions?; file likewise without actions. The read-only mediaType and mediaSize
 *     in a request answer 400. Stored image/file messages, the API's and the agent workspace's alike, get
 *     Sunshine's mediaType (the simulator goes by the file extension: png, jpg, jpeg, gif, webp, pdf, txt;
 *     otherwise none; an agentSay `mediaType` stands for the type of the agent's upload) and, without an altText,
 *     the file name as one. Actions (type and text checked, the rest as posted) and the author's subtypes (exactly one,
 *     "AI" or "activity": "agent" and "bot" are Sunshine's own) are kept on the stored message.
 *   - Webhook triggers are the ones the gateway subscribes to: conversation:message, conversation:typing
 *     (business typing only; its `author` left out on request, as the spec allows), conversation:read
 *     (the user's through the API, the agent's read action) and
 *     switchboard:passControl|offerControl|acceptControl|releaseControl.
 *     Nothing is sent while no webhookUrl is set (the events are recorded as "noTarget").
 *   - Webhook retries: every non-2xx answer is retried except 400/401/403/404/406; redirects are not followed.
 *     Attempts = 1 + retryDelaysMs.length.
 *   - duplicateNextWebhooks counts events as they are emitted; a call holding a flagged event is sent twice.
 *   - Switchboard integrations: the bot's has integrationType "custom"; both get random 24-hex ids and integrationIds.
 */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import { listen, serve } from "../http/serve.js"
import { makeUnreachableSwitch } from "../http/unreachable.js"
import { makeAgent, simRoutes } from "./agent.js"
import { apiRoutes } from "./routes.js"
import { allConversations, allDeliveries, allUsers, makeState, snapshotConversation } from "./state.js"
import type { ZendeskSim, ZendeskSimOptions } from "./types.js"
import { makeWebhooks } from "./webhooks.js"
import { sunshineRefusals } from "./wire.js"

export * from "./types.js"

/** The API's paths (what `requests()` records). */
const API_PREFIXES = ["/sc/v2/", "/v2/"]

export const makeZendeskSim = (options: ZendeskSimOptions): Effect.Effect<ZendeskSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state = makeState(options)
    const webhooks = yield* makeWebhooks(state)
    const agent = makeAgent(state, webhooks)
    const loopback = yield* listen
    const unreachable = makeUnreachableSwitch()
    const routes = HttpRouter.concatAll(
      simRoutes(state, agent),
      apiRoutes(state, webhooks, loopback.url),
      unreachable.route(HttpRouter.empty)
    )
    yield* serve(loopback, unreachable.guard(routes), {
      name: "zendesk sim",
      refusals: sunshineRefusals,
      record: (answered) => {
        if (API_PREFIXES.some((prefix) => answered.path.startsWith(prefix))) state.apiRequests.push(answered)
      }
    })

    return {
      baseUrl: `${loopback.url}/sc`,
      botIntegration: state.bot,
      agentWorkspace: state.agentWorkspace,
      conversations: () => allConversations(state),
      conversationOf: (externalId) => {
        const newest = [...state.conversations.values()].reverse().find((c) => c.user.externalId === externalId)
        return newest === undefined ? undefined : snapshotConversation(newest)
      },
      users: () => allUsers(state),
      requests: () => [...state.apiRequests],
      webhookDeliveries: () => allDeliveries(state),
      awaitWebhooks: () => webhooks.awaitWebhooks,
      setWebhookUrl: (url) =>
        Effect.sync(() => {
          state.webhookUrl = url
        }),
      agentAccept: (conversationId, identity) => Effect.orDie(agent.accept(conversationId, identity)),
      agentSay: (conversationId, content, identity) => Effect.orDie(agent.say(conversationId, content, identity)),
      agentTyping: (conversationId, start, typingOptions) =>
        Effect.orDie(agent.typing(conversationId, start, typingOptions?.withoutAuthor ?? false)),
      agentRead: (conversationId) => Effect.orDie(agent.read(conversationId)),
      closeTicket: (conversationId) => Effect.orDie(agent.release(conversationId, "ticketClosed")),
      passBack: (conversationId) => Effect.orDie(agent.passBack(conversationId)),
      transferToEmail: (conversationId) => Effect.orDie(agent.release(conversationId, "transferToEmail")),
      dropNextWebhooks: (n, filter) => Effect.sync(() => state.drops.arm(n, filter)),
      duplicateNextWebhooks: (n) => Effect.sync(() => state.duplicates.arm(n)),
      ...unreachable.controls,
      failNext: (n, status, failOptions) =>
        Effect.sync(() =>
          state.failures.arm(n, {
            status,
            retryAfterSeconds: failOptions?.retryAfterSeconds,
            afterApplying: failOptions?.afterApplying ?? false
          })
        )
    } satisfies ZendeskSim
  })
