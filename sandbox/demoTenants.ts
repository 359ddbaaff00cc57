/** The sandbox's demo organization and tenants: one per provider (docs/CONTRACTS.md#hbf-core shapes). */
export const demoOrganization = { id: "demo-org", displayName: "Demo organization", timezone: "Europe/Athens" }

export const demoHelviaSecret = "sandbox-helvia-webhook-secret"

/** The demo Genesys organization: one OAuth client, one Open Messaging integration, one queue. */
export const demoGenesys = {
  region: "mypurecloud.de",
  clientId: "demo-client",
  clientSecret: "demo-secret",
  integrationId: "demo-integration",
  queueId: "demo-queue",
  webhookSecret: "demo-genesys-webhook-secret"
} as const

/** Where the sandbox's simulated providers listen. */
export interface DemoProviderUrls {
  readonly genesys: string
  readonly cisco: string
  readonly zendesk: string
}

/** The demo CCP feed and the CCX queue chats are routed to. */
export const demoCisco = { feedId: "100000", queueTag: "Chat_Csq3" } as const

/** A tenant on Cisco CCP (the simulator at `url`). */
export const ciscoTenant = (id: string, url: string) =>
  tenant(
    id,
    "Demo bot (Cisco Webex Contact Center)",
    plugin("CISCO_LIVECHAT", { cisco: { baseUrl: url, ...demoCisco } })
  )

/** The demo Sunshine Conversations app: its API key and the webhook's shared secret. */
export const demoZendesk = {
  appId: "demo-app",
  keyId: "demo-key",
  keySecret: "demo-key-secret",
  webhookSecret: "demo-zendesk-webhook-secret"
} as const

/** A tenant on Zendesk Sunshine Conversations (the simulator at `url`). */
export const zendeskTenant = (id: string, url: string) =>
  tenant(id, "Demo bot (Zendesk)", plugin("ZENDESK_LIVECHAT", { zendesk: { ...demoZendesk, apiBaseUrl: url } }))

const plugin = (type: string, blocks: Record<string, unknown>) => [
  {
    category: "LIVECHAT",
    integrationId: `int-${type.toLowerCase()}`,
    integration: {
      id: `int-${type.toLowerCase()}`,
      name: `Demo ${type}`,
      enabled: true,
      category: "LIVECHAT",
      type,
      // hbf-bot is warned after 2 minutes of waiting, and 5 minutes before an inactivity close.
      timeouts: {
        pendingSeconds: 900,
        inactivitySeconds: 1800,
        waitWarningSeconds: 120,
        inactivityWarningSeconds: 300
      },
      flowTriggers: { "session.ended": "flow-survey", "request.failed": "flow-fallback" },
      ...blocks
    }
  }
]

const tenant = (id: string, displayName: string, plugins: ReadonlyArray<unknown>) => ({
  id,
  displayName,
  timezone: "Europe/Athens",
  image: "https://example.com/bot.png",
  organization: demoOrganization.id,
  plugins
})

/** A tenant on Genesys Cloud (the simulator at `url`) with the given OAuth client. */
export const genesysTenant = (
  id: string,
  url: string,
  client: { readonly clientId: string; readonly clientSecret: string } = demoGenesys
) =>
  tenant(
    id,
    "Demo bot (Genesys Cloud)",
    plugin("GENESYS_LIVECHAT", { genesys: { ...demoGenesys, ...client, apiBaseUrl: url, loginBaseUrl: url } })
  )

export const demoTenants = (urls: DemoProviderUrls) => [
  tenant(
    "demo-helvia",
    "Demo bot (hbf-lcm)",
    plugin("HELVIA_LIVECHAT", { helvia: { webhookSecret: demoHelviaSecret } })
  ),
  genesysTenant("demo-genesys", urls.genesys),
  ciscoTenant("demo-cisco", urls.cisco),
  zendeskTenant("demo-zendesk", urls.zendesk)
]
