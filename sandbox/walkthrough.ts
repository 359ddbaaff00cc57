/**
 * The sandbox's walkthrough, one per provider, as data: `npm start` prints it and README.md
 * holds the same text (test/sandbox/npmStart.test.ts checks that they agree, and follows
 * every step against a running sandbox). Every step is one curl line; the shell variables
 * (`$GATEWAY`, `$TOKEN`, …) are what the sandbox prints before the steps.
 */

/** The shell variables a step may use: the services' URLs and the tokens the sandbox prints, and what earlier steps exported. */
export type Host = "GATEWAY" | "LCM" | "GENESYS" | "CISCO" | "ZENDESK" | "BOT" | "PUBLISHER"

export interface Step {
  /** What the step does, printed as a comment above it. */
  readonly note: string
  readonly method: "GET" | "POST" | "DELETE"
  readonly host: Host
  /** After the host; may name variables exported by earlier steps (`$SESSION`). */
  readonly path: string
  /** The token the gateway's routes need. */
  readonly auth?: "TOKEN" | "ADMIN_TOKEN"
  readonly body?: Readonly<Record<string, unknown>>
  /** Variables exported from fields of the JSON answer: `{ SESSION: "sessionId" }`. */
  readonly exports?: Readonly<Record<string, string>>
}

export interface Flow {
  /** What the flow shows, printed above it. */
  readonly title: string
  readonly steps: ReadonlyArray<Step>
}

export interface ProviderWalkthrough {
  readonly provider: string
  readonly tenantId: string
  readonly flows: ReadonlyArray<Flow>
}

/** What the walkthrough depends on: the Cisco simulator's join timeout (SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS). */
export interface WalkthroughSettings {
  readonly ciscoJoinTimeoutSeconds: number
}

export const defaultWalkthroughSettings: WalkthroughSettings = { ciscoJoinTimeoutSeconds: 60 }

const menu = { url: "https://files.example.com/menu.pdf", contentType: "application/pdf", name: "menu.pdf" }

const request = (tenantId: string, subHandle: string, name: string, provider?: string): Step => ({
  note: "the bot user asks for a human: the gateway opens a livechat",
  method: "POST",
  host: "GATEWAY",
  path: "/requests",
  auth: "TOKEN",
  body: { tenantId, subHandle, user: { name } },
  exports: { SESSION: "sessionId", ...(provider !== undefined ? { [provider]: "providerConversationId" } : {}) }
})

const userMessage = (tenantId: string, subHandle: string, text: string): Step => ({
  note: "the user writes",
  method: "POST",
  host: "GATEWAY",
  path: "/messages",
  auth: "TOKEN",
  body: { tenantId, subHandle, messageId: "m1", text }
})

const userTyping = (tenantId: string, subHandle: string, forwarded: string): Step => ({
  note: `the user types (${forwarded})`,
  method: "POST",
  host: "GATEWAY",
  path: "/typing",
  auth: "TOKEN",
  body: { tenantId, subHandle }
})

/** A read of the gateway's (with the upstream token). */
const gatewayRead = (note: string, path: string): Step => ({
  note,
  method: "GET",
  host: "GATEWAY",
  path,
  auth: "TOKEN"
})

const botEvents: Step = {
  note: "what hbf-bot received for this livechat, in order",
  method: "GET",
  host: "BOT",
  path: "/sandbox/events?sessionId=$SESSION"
}

const helvia: ProviderWalkthrough = {
  provider: "helvia (hbf-lcm), the platform's own livechat; its agent's events reach the gateway as signed webhooks",
  tenantId: "demo-helvia",
  flows: [
    {
      title: "A whole livechat",
      steps: [
        request("demo-helvia", "alice", "Alice"),
        {
          note: "an agent joins",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$SESSION/join",
          body: { fullName: "Maria" }
        },
        userMessage("demo-helvia", "alice", "Hello, I need help"),
        userTyping("demo-helvia", "alice", "hbf-lcm takes no typing: forwarded false"),
        {
          note: "the agent types",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$SESSION/typing",
          body: { on: true }
        },
        {
          note: "the agent answers, with an attachment",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$SESSION/say",
          body: { text: "Hi Alice, here is our menu", attachments: [menu] }
        },
        {
          note: "the agent transfers the chat: back in the queue",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$SESSION/transfer"
        },
        {
          note: "another agent joins",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$SESSION/join",
          body: { fullName: "Nikos", id: "agent-8" }
        },
        botEvents,
        {
          note: "the session as the gateway holds it (an admin route: the admin token)",
          method: "GET",
          host: "GATEWAY",
          path: "/admin/sessions/$SESSION",
          auth: "ADMIN_TOKEN"
        },
        {
          note:
            "the agent ends the chat (the user would: DELETE $GATEWAY/sessions/tenants/demo-helvia/subscribers/alice)",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$SESSION/end"
        },
        gatewayRead(
          "the subscriber's livechat state: none open",
          "/subscribers/alice/livechat-state"
        ),
        {
          note: "the flows event-publisher was asked to trigger (session.ended starts the tenant's survey flow)",
          method: "GET",
          host: "PUBLISHER",
          path: "/sandbox/triggers"
        }
      ]
    },
    {
      title: "Where the user stands: what the provider carries, the queue",
      steps: [
        gatewayRead(
          "what the tenant's provider carries (typing, read receipts, attachments, long texts, transfers)",
          "/tenants/demo-helvia/capabilities"
        ),
        gatewayRead(
          "whether a livechat can start now: business hours, the provider's health, the wait where known",
          "/tenants/demo-helvia/availability"
        ),
        { ...request("demo-helvia", "hana", "Hana"), exports: { FIRST: "sessionId" } },
        {
          ...request("demo-helvia", "hugo", "Hugo"),
          note: "a second user asks: hbf-bot is told the request's place (request.queued, position 2)"
        },
        gatewayRead(
          "the waiting request's latest figures",
          "/subscribers/hugo/livechat-state"
        ),
        {
          note:
            "an agent takes the first request: the second moves up (its next request.queued, within LCG_QUEUE_UPDATE_SECONDS, says position 1)",
          method: "POST",
          host: "LCM",
          path: "/sandbox/agent/$FIRST/join",
          body: { fullName: "Maria" }
        },
        botEvents,
        {
          note: "the second user gives up waiting",
          method: "DELETE",
          host: "GATEWAY",
          path: "/sessions/tenants/demo-helvia/subscribers/hugo",
          auth: "TOKEN"
        },
        { note: "the agent ends the first chat", method: "POST", host: "LCM", path: "/sandbox/agent/$FIRST/end" }
      ]
    },
    {
      title: "A request nobody takes",
      steps: [
        request("demo-helvia", "alex", "Alex"),
        { note: "hbf-lcm gives up on it", method: "POST", host: "LCM", path: "/sandbox/agent/$SESSION/missed" },
        botEvents
      ]
    },
    {
      title: "The user ends the livechat",
      steps: [
        request("demo-helvia", "ann", "Ann"),
        {
          note: "the user closes the livechat",
          method: "DELETE",
          host: "GATEWAY",
          path: "/sessions/tenants/demo-helvia/subscribers/ann",
          auth: "TOKEN"
        },
        botEvents
      ]
    }
  ]
}

const genesys: ProviderWalkthrough = {
  provider:
    "Genesys Cloud; joins, leaves and the end reach the gateway on its notifications socket, messages and typing as webhooks",
  tenantId: "demo-genesys",
  flows: [
    {
      title: "A whole livechat",
      steps: [
        request("demo-genesys", "bob", "Bob", "CONVERSATION"),
        {
          note:
            "Genesys' estimated wait for the queue changes: a waiting request gets it in its next figures (request.queued, source provider)",
          method: "POST",
          host: "GENESYS",
          path: "/sim/queues/demo-queue/estimated-wait",
          body: { seconds: 120 }
        },
        {
          note: "an agent joins",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/join",
          body: { name: "Maria" }
        },
        userMessage("demo-genesys", "bob", "Hello, I need help"),
        userTyping("demo-genesys", "bob", "forwarded to Genesys"),
        { note: "the agent types", method: "POST", host: "GENESYS", path: "/sim/conversations/$CONVERSATION/typing" },
        {
          note: "the agent answers, with an attachment",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/say",
          body: { text: "Hi Bob, here is our menu", attachments: [menu] }
        },
        {
          note: "the agent transfers the conversation: back in the queue",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/leave",
          body: { transfer: true }
        },
        {
          note: "another agent joins",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/join",
          body: { name: "Nikos", userId: "agent-8" }
        },
        botEvents,
        {
          note: "the conversation ends",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/end"
        }
      ]
    },
    {
      title: "The agent leaves",
      steps: [
        request("demo-genesys", "bea", "Bea", "CONVERSATION"),
        {
          note: "an agent joins",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/join",
          body: { name: "Maria" }
        },
        {
          note: "the agent leaves (no transfer)",
          method: "POST",
          host: "GENESYS",
          path: "/sim/conversations/$CONVERSATION/leave"
        },
        botEvents
      ]
    },
    {
      title: "The provider goes down, and comes back",
      steps: [
        {
          note: "Genesys is down (the simulator answers every call 503)",
          method: "POST",
          host: "GENESYS",
          path: "/sim/unreachable",
          body: { unreachable: true }
        },
        gatewayRead(
          "availability asks Genesys and gets no answer: provider-unreachable (after 5 failed calls in 30 s the breaker opens, and POST /requests answers 503 at once)",
          "/tenants/demo-genesys/availability"
        ),
        {
          note: "Genesys is back",
          method: "POST",
          host: "GENESYS",
          path: "/sim/unreachable",
          body: { unreachable: false }
        },
        gatewayRead(
          "available again, its agents and estimated wait told by Genesys (sources)",
          "/tenants/demo-genesys/availability"
        )
      ]
    }
  ]
}

const cisco = (settings: WalkthroughSettings): ProviderWalkthrough => ({
  provider: `Cisco CCP; the gateway polls it every 5 s (at once after a user message); a chat no agent joins within ${
    settings.ciscoJoinTimeoutSeconds === 0 ? "any time (the timeout is off)" : `${settings.ciscoJoinTimeoutSeconds} s`
  } ends (SANDBOX_CISCO_JOIN_TIMEOUT_SECONDS; 0 = never); CCP chats carry no attachments`,
  tenantId: "demo-cisco",
  flows: [
    {
      title: "A whole livechat",
      steps: [
        request("demo-cisco", "carol", "Carol", "CHAT"),
        {
          note: "an agent joins",
          method: "POST",
          host: "CISCO",
          path: "/sim/chats/$CHAT/join",
          body: { agentName: "Maria" }
        },
        userMessage("demo-cisco", "carol", "Hello, I need help"),
        userTyping("demo-cisco", "carol", "forwarded to CCP"),
        {
          note: "the agent types",
          method: "POST",
          host: "CISCO",
          path: "/sim/chats/$CHAT/typing",
          body: { status: "composing" }
        },
        {
          note: "the agent answers",
          method: "POST",
          host: "CISCO",
          path: "/sim/chats/$CHAT/say",
          body: { text: "Hi Carol, how can I help?" }
        },
        botEvents,
        { note: "the agent leaves: the chat ends", method: "POST", host: "CISCO", path: "/sim/chats/$CHAT/leave" }
      ]
    },
    {
      title: "A chat nobody joins (what the join timeout posts, at once)",
      steps: [
        request("demo-cisco", "carl", "Carl", "CHAT"),
        {
          note: "CCP gives up waiting for an agent",
          method: "POST",
          host: "CISCO",
          path: "/sim/chats/$CHAT/status",
          body: { status: "chat_timedout_waiting_for_agent" }
        },
        botEvents
      ]
    }
  ]
})

const zendesk: ProviderWalkthrough = {
  provider: "Zendesk Sunshine Conversations; the Agent Workspace's events reach the gateway as webhooks",
  tenantId: "demo-zendesk",
  flows: [
    {
      title: "A whole livechat",
      steps: [
        request("demo-zendesk", "dan", "Dan", "CONV"),
        {
          note: "an agent accepts the conversation",
          method: "POST",
          host: "ZENDESK",
          path: "/sim/conversations/$CONV/accept",
          body: { displayName: "Maria" }
        },
        userMessage("demo-zendesk", "dan", "Hello, I need help"),
        userTyping("demo-zendesk", "dan", "Sunshine takes typing from agents only: forwarded false"),
        {
          note: "the agent types",
          method: "POST",
          host: "ZENDESK",
          path: "/sim/conversations/$CONV/typing",
          body: { start: true }
        },
        {
          note: "the agent answers, with an attachment",
          method: "POST",
          host: "ZENDESK",
          path: "/sim/conversations/$CONV/say",
          body: { text: "Hi Dan, here is our menu", attachments: [menu] }
        },
        {
          note: "the user has read it: the agent sees the conversation read",
          method: "POST",
          host: "GATEWAY",
          path: "/read",
          auth: "TOKEN",
          body: { tenantId: "demo-zendesk", subHandle: "dan" }
        },
        {
          note: "the agent reads the conversation",
          method: "POST",
          host: "ZENDESK",
          path: "/sim/conversations/$CONV/read"
        },
        botEvents,
        {
          note: "the agent solves the ticket: the livechat ends",
          method: "POST",
          host: "ZENDESK",
          path: "/sim/conversations/$CONV/close"
        }
      ]
    },
    {
      title: "The agent hands the conversation back to the bot",
      steps: [
        request("demo-zendesk", "dana", "Dana", "CONV"),
        { note: "an agent accepts", method: "POST", host: "ZENDESK", path: "/sim/conversations/$CONV/accept" },
        { note: "and passes control back", method: "POST", host: "ZENDESK", path: "/sim/conversations/$CONV/passBack" },
        botEvents
      ]
    },
    {
      title: "The agent moves the conversation to email",
      steps: [
        request("demo-zendesk", "dora", "Dora", "CONV"),
        { note: "an agent accepts", method: "POST", host: "ZENDESK", path: "/sim/conversations/$CONV/accept" },
        {
          note: "and transfers it to email",
          method: "POST",
          host: "ZENDESK",
          path: "/sim/conversations/$CONV/transferToEmail"
        },
        botEvents
      ]
    }
  ]
}

/** Every provider's walkthrough, in the order they are printed. */
export const walkthroughs = (settings: WalkthroughSettings): ReadonlyArray<ProviderWalkthrough> => [
  helvia,
  genesys,
  cisco(settings),
  zendesk
]

/** One step as a curl command line (and the exports it makes, through the printed `field` helper). */
export const renderStep = (step: Step): string => {
  const parts = [`curl -s${step.method === "GET" ? "" : ` -X ${step.method}`} "$${step.host}${step.path}"`]
  if (step.auth !== undefined) parts.push(`-H "authorization: Bearer $${step.auth}"`)
  if (step.body !== undefined) {
    // The gateway wants JSON labelled so; the simulators' routes read JSON whatever curl -d labels it.
    if (step.host === "GATEWAY") parts.push("-H 'content-type: application/json'")
    parts.push(`-d '${JSON.stringify(step.body)}'`)
  }
  const curl = parts.join(" ")
  // Each answer on a line of its own, so that pasted steps' answers do not run together.
  if (step.exports === undefined) return `# ${step.note}\n${curl} -w '\\n'`
  const exported = Object.entries(step.exports).map(([name, field]) => `${name}=$(echo "$ANSWER" | field ${field})`)
  return `# ${step.note}\nANSWER=$(${curl}); echo "$ANSWER"\nexport ${exported.join(" ")}`
}

/** The steps of every provider, as printed after the sandbox's URLs and in README.md. */
export const renderWalkthroughs = (settings: WalkthroughSettings): string =>
  walkthroughs(settings).map((w) =>
    [
      `## ${w.provider} (tenant ${w.tenantId})`,
      ...w.flows.map((flow) => [`### ${flow.title}`, ...flow.steps.map(renderStep)].join("\n"))
    ].join("\n\n")
  ).join("\n\n")

/** The services' URLs and the tokens, by the variable the steps name them with. */
export type WalkthroughVariables = Readonly<Record<Host | "TOKEN" | "ADMIN_TOKEN", string>>

/** The shell lines that set the variables the steps use, and `field`, which reads a field of a JSON answer. */
export const renderVariables = (v: WalkthroughVariables): string =>
  [
    `export GATEWAY=${v.GATEWAY} BOT=${v.BOT} PUBLISHER=${v.PUBLISHER}`,
    `export LCM=${v.LCM} GENESYS=${v.GENESYS} CISCO=${v.CISCO} ZENDESK=${v.ZENDESK}`,
    `export TOKEN=${v.TOKEN}`,
    `export ADMIN_TOKEN=${v.ADMIN_TOKEN}`,
    `field() { node -pe "JSON.parse(fs.readFileSync(0, 'utf8')).$1"; }`
  ].join("\n")
