/** `npm start` without configuration: the simulators, the gateway on PORT (3000), and a walkthrough. */
import { Config, Console, Effect, LogLevel } from "effect"
import { describeConfigError, InvalidConfiguration } from "../src/app/AppConfigLive.js"
import { serveGateway } from "../src/app/program.js"
import { makeSandbox } from "./environment.js"
import { signToken } from "./token.js"

/**
 * The gateway's own variables (every one AppConfigLive reads but PORT, LOG_LEVEL and
 * LOG_FORMAT, which the sandbox honours too): with any of them set, `npm start` runs that
 * configuration, as the production entry does, instead of the sandbox.
 */
export const gatewayVariables = [
  "LCG_PUBLIC_URL",
  "LCG_JWT_SECRET",
  "LCG_JWKS_URL",
  "LCG_JWT_AUDIENCE",
  "LCG_JWT_ISSUER",
  "HBF_CORE_URL",
  "HBF_CORE_API_TOKEN",
  "HBF_CORE_CACHE_SECONDS",
  "HBF_LCM_URL",
  "HBF_LCM_TOKEN",
  "HBF_BOT_URL",
  "HBF_BOT_SIGNING",
  "HBF_BOT_SIGNING_SECRET",
  "HBF_EVENT_PUBLISHER_URL",
  "LCG_PROVIDER_ALLOW_INSECURE",
  "LCG_PROVIDER_ALLOW_PRIVATE",
  "LCG_PROVIDER_HOSTS",
  "REDIS_URL",
  "LCG_STORE",
  "LCG_REDIS_PREFIX",
  "LCG_INSTANCE_ID",
  "LCG_PARTITIONS",
  "LCG_DELIVERY_MAX_ATTEMPTS",
  "LCG_SESSION_RETENTION_DAYS",
  "LCG_DEDUP_RETENTION_DAYS",
  "LCG_SHUTDOWN_DRAIN_MS",
  "LCG_HTTP_HEADERS_TIMEOUT_MS",
  "LCG_HTTP_REQUEST_TIMEOUT_MS",
  "LCG_HTTP_KEEP_ALIVE_TIMEOUT_MS",
  "LCG_HTTP_MAX_CONNECTIONS",
  "LCG_UPSTREAM_MAX_BODY_BYTES",
  "LCG_UPSTREAM_DEADLINE_MS",
  "CISCO_POLL_INTERVAL_MS",
  "CISCO_MAX_EVENTS_PER_POLL",
  "ZENDESK_POLL_INTERVAL_MS",
  "OTEL_EXPORTER_OTLP_ENDPOINT"
] as const

/** What the sandbox takes from the environment, read as the gateway reads it (pretty lines by default). */
const sandboxSettings = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  logLevel: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  logFormat: Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault("pretty" as const))
})

const walkthrough = (
  gateway: string,
  lcm: string,
  genesys: string,
  cisco: string,
  zendesk: string,
  bot: string,
  token: string
) => `
hbf-lcg sandbox is running: simulated hbf-core, hbf-lcm, Genesys Cloud, Cisco CCP, Sunshine Conversations, hbf-bot and event-publisher on loopback.
  gateway          ${gateway}   (API docs: ${gateway}/docs)
  hbf-lcm (agent)  ${lcm}
  Genesys Cloud    ${genesys}
  Cisco CCP        ${cisco}
  Zendesk Sunshine ${zendesk}
  hbf-bot          ${bot}
Demo tenants, one per provider: demo-helvia, demo-genesys, demo-cisco, demo-zendesk.

A whole livechat, step by step:
  export TOKEN=${token}
  # 1. the bot user asks for a human
  curl -s -X POST ${gateway}/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"tenantId":"demo-helvia","subHandle":"alice","user":{"name":"Alice"}}'
  export SESSION=<the sessionId from the answer>
  # 2. an agent joins (hbf-lcm's scriptable agent)
  curl -s -X POST ${lcm}/sandbox/agent/$SESSION/join -d '{"fullName":"Maria"}'
  # 3. the user writes, the agent answers
  curl -s -X POST ${gateway}/messages -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"tenantId":"demo-helvia","subHandle":"alice","messageId":"m1","text":"Hello, I need help"}'
  curl -s -X POST ${lcm}/sandbox/agent/$SESSION/say -d '{"text":"Hi Alice, how can I help?"}'
  # 4. what hbf-bot received, in order
  curl -s "${bot}/sandbox/events?sessionId=$SESSION"
  # 5. the agent ends the chat (or the user: curl -X DELETE ${gateway}/sessions/tenants/demo-helvia/subscribers/alice -H "authorization: Bearer $TOKEN")
  curl -s -X POST ${lcm}/sandbox/agent/$SESSION/end
  curl -s ${gateway}/subscribers/alice/livechat-state -H "authorization: Bearer $TOKEN"

The same on Genesys Cloud (the simulator's agent; joins and the end reach the gateway on its notifications socket):
  curl -s -X POST ${gateway}/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"tenantId":"demo-genesys","subHandle":"bob","user":{"name":"Bob"}}'
  export CONVERSATION=<the providerConversationId from the answer>
  curl -s -X POST ${genesys}/sim/conversations/$CONVERSATION/join -d '{"name":"Maria"}'
  curl -s -X POST ${gateway}/messages -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"tenantId":"demo-genesys","subHandle":"bob","messageId":"m1","text":"Hello"}'
  curl -s -X POST ${genesys}/sim/conversations/$CONVERSATION/say -d '{"text":"Hi Bob"}'
  curl -s -X POST ${genesys}/sim/conversations/$CONVERSATION/end

And on Cisco CCP (polled every 5 s, at once after a user message):
  curl -s -X POST ${gateway}/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"tenantId":"demo-cisco","subHandle":"carol","user":{"name":"Carol"}}'
  export CHAT=<the providerConversationId from the answer>
  curl -s -X POST ${cisco}/sim/chats/$CHAT/join -d '{"agentName":"Maria"}'
  curl -s -X POST ${cisco}/sim/chats/$CHAT/say -d '{"text":"Hi Carol"}'
  curl -s -X POST ${cisco}/sim/chats/$CHAT/leave

And on Zendesk Sunshine Conversations (the Agent Workspace's agent; its events reach the gateway by webhook):
  curl -s -X POST ${gateway}/requests -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"tenantId":"demo-zendesk","subHandle":"dan","user":{"name":"Dan"}}'
  export CONV=<the providerConversationId from the answer>
  curl -s -X POST ${zendesk}/sim/conversations/$CONV/say -d '{"text":"Hi Dan","displayName":"Maria"}'
  curl -s -X POST ${zendesk}/sim/conversations/$CONV/close
`

export const sandboxProgram = Effect.scoped(
  Effect.gen(function*() {
    const { port, logLevel, logFormat } = yield* Effect.mapError(
      sandboxSettings,
      (e) => new InvalidConfiguration(describeConfigError(e))
    )
    // Signed as in production, so that the simulated hbf-bot verifies every event as hbf-bot must.
    const sandbox = yield* makeSandbox({
      port,
      botSigningSecret: "sandbox-bot-signing-secret",
      configure: (config) => ({ ...config, logLevel, logFormat })
    })
    const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, scope: "admin" }))
    yield* Console.log(
      walkthrough(
        `http://localhost:${sandbox.config.port}`,
        sandbox.lcm.baseUrl,
        sandbox.genesys.baseUrl,
        sandbox.cisco.baseUrl,
        new URL(sandbox.zendesk.baseUrl).origin,
        sandbox.bot.baseUrl,
        token
      )
    )
    return yield* serveGateway(sandbox.config, "sandbox")
  })
)
