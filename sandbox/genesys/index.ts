/**
 * Genesys Cloud CX simulator (docs/PROVIDERS.md#genesys-cloud-cx): OAuth client credentials,
 * Open Messaging inbound, the messaging conversation resource, the notifications service
 * with its streaming WebSocket, queue availability, and a scriptable agent whose messages
 * reach the gateway as signed outbound webhooks. Errors use the Genesys body
 * `{ message, code, status, contextId, details, errors }`.
 *
 * One loopback server plays login, API and streaming host (`baseUrl` is both the login and
 * the API base):
 *   POST  /oauth/token                                     Basic clientId:clientSecret, form grant_type=client_credentials
 *   POST  /api/v2/conversations/messages/{integrationId}/inbound/open/message   202 (?prefetchConversationId=true adds conversationId)
 *   POST  /api/v2/conversations/messages/{integrationId}/inbound/open/event     202 (Typing)
 *   POST  /api/v2/conversations/messages/{integrationId}/inbound/open/receipt   202
 *   POST  /api/v2/conversations/messages/inbound/open      deprecated older message shape (channel.to.id = integrationId)
 *   GET   /api/v2/conversations/messages/{messageId}/details
 *   GET   /api/v2/conversations/messages/{conversationId}
 *   PATCH /api/v2/conversations/messages/{conversationId}  { state: "disconnected" }: everybody leaves
 *   PATCH /api/v2/conversations/messages/{conversationId}/participants/{participantId}   { state: "disconnected" }
 *   POST  /api/v2/notifications/channels                   { id, connectUri, expires }
 *   HEAD  /api/v2/notifications/channels/{channelId}       200 alive, 404 gone
 *   GET|POST|PUT|DELETE /api/v2/notifications/channels/{channelId}/subscriptions   body [{ id: topic }]
 *   GET   /api/v2/routing/queues/{queueId}/mediatypes/message/estimatedwaittime
 *   POST  /api/v2/analytics/queues/observations/query   predicates and/or clauses; queueId and mediaType dimensions
 *   GET   /api/v2/users/{userId}                        the organization's users (options.users), whether or not they joined
 *   WS    /channels/{channelId}                            the connectUri
 * Sandbox routes (no auth, for curl):
 *   POST /sim/conversations/{conversationId}/join|say|typing|leave|end
 *        bodies: join {userId?, name?}; say {text?, attachments?: [{url, contentType, name?}]};
 *        typing {withoutId?}; leave {transfer?}
 *   GET  /sim                                  the agent's actions with example bodies (JSON)
 *   POST /sim/webhooks/{webhookId}/resend      -> { webhookId, status }
 *   POST /sim/sockets/drop | /sim/sockets/close | /sim/tokens/expire
 *   POST /sim/fail                             { n, status: 429|500|503, retryAfterSeconds? }
 *   POST /sim/unreachable                      { unreachable }: login and API answer 503, empty, while true (sockets dropped)
 *   POST /sim/topics/refuse                    { suffix, missingPermissions? }: subscriptions reject topics ending in .{suffix}
 *   GET  /sim/conversations | /sim/requests | /sim/channels
 */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import { listen, serve } from "../http/serve.js"
import { makeUnreachableSwitch } from "../http/unreachable.js"
import { makeAgent, simRoutes } from "./agent.js"
import { clientOf, expireTokens, makeApiGuard } from "./auth.js"
import { makeConversations } from "./conversations.js"
import { makeNotifications } from "./notifications.js"
import { apiRoutes } from "./routes.js"
import { makeState, refuseTopics, setEstimatedWait, snapshotConversation } from "./state.js"
import type { GenesysSim, GenesysSimOptions } from "./types.js"
import { makeWebhooks } from "./webhooks.js"
import { genesysRefusals } from "./wire.js"

export * from "./types.js"

export const makeGenesysSim = (options: GenesysSimOptions): Effect.Effect<GenesysSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state = makeState(options)
    // One loopback server plays login, API and streaming host.
    const loopback = yield* listen
    const api = makeApiGuard(state)
    const notifications = yield* makeNotifications(state, loopback, api)
    const conversations = makeConversations(state, notifications, loopback.url)
    const webhooks = makeWebhooks(state)
    const agent = makeAgent(state, notifications, conversations, webhooks)
    // An unreachable Genesys also loses its notification sockets.
    const unreachable = makeUnreachableSwitch(notifications.dropSockets)
    yield* serve(
      loopback,
      unreachable.guard(HttpRouter.concatAll(
        apiRoutes(state, api, notifications, conversations),
        simRoutes(state, agent, webhooks, notifications),
        unreachable.route(HttpRouter.empty)
      )),
      {
        name: "genesys sim",
        refusals: genesysRefusals,
        // every /api request with the status it got (after the fallbacks, so 404s count too)
        record: ({ method, path, status }, req) => {
          if (path.startsWith("/api/")) state.apiRequests.push({ method, path, status, ...clientOf(state, req) })
        }
      }
    )

    return {
      baseUrl: loopback.url,
      conversations: () => [...state.conversations.values()].map(snapshotConversation),
      conversationOf: (fromId) => {
        const c = [...state.conversations.values()].reverse().find((x) => x.fromId === fromId)
        return c === undefined ? undefined : snapshotConversation(c)
      },
      agentJoin: (conversationId, identity) => Effect.orDie(agent.join(conversationId, identity)),
      agentSay: (conversationId, message) => Effect.orDie(agent.say(conversationId, message)),
      agentTyping: (conversationId, typingOptions) => Effect.orDie(agent.typing(conversationId, typingOptions)),
      resendWebhook: (webhookId) => Effect.orDie(webhooks.resend(webhookId)),
      agentLeave: (conversationId, leaveOptions) =>
        Effect.orDie(agent.leave(conversationId, leaveOptions?.transfer ?? false)),
      endConversation: (conversationId) => Effect.orDie(agent.end(conversationId)),
      dropSockets: () => notifications.dropSockets,
      closeSockets: () => notifications.closeSockets,
      expireTokens: () => expireTokens(state),
      ...unreachable.controls,
      failNext: (n, status, retryAfterSeconds) =>
        Effect.sync(() => state.failures.arm(n, { status, retryAfterSeconds })),
      requests: () => [...state.apiRequests],
      tokensIssued: (clientId) => state.grants.get(clientId) ?? 0,
      channels: notifications.listChannels,
      refuseTopics: (suffix, missingPermissions) => Effect.sync(() => refuseTopics(state, suffix, missingPermissions)),
      setEstimatedWait: (queueId, seconds) => Effect.sync(() => setEstimatedWait(state, queueId, seconds))
    } satisfies GenesysSim
  })
