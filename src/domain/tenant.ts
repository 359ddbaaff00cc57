/**
 * Tenants as hbf-core returns them (docs/CONTRACTS.md#hbf-core), decoded once at the
 * boundary into what the gateway needs: the organization id and the livechat plugin.
 */
import { Effect, Either, Option, type ParseResult, Schema } from "effect"
import { BusinessHours } from "./businessHours.js"
import { EventType, type ProviderAlias } from "./model.js"
import { describeIssuesInline } from "./schemaIssues.js"

/** Secrets are never empty: an HMAC keyed with "" is one anybody can compute. */
const Secret = Schema.Redacted(Schema.NonEmptyString)

export const HelviaConfig = Schema.Struct({ webhookSecret: Secret })

/**
 * Genesys Cloud region hosts (docs/PROVIDERS.md#genesys-hosts): the API is at api.{host}, the
 * login at login.{host}. The list is the Genesys SDK's, complete and in its order:
 * `PureCloudRegionHosts` of the npm package purecloud-platform-client-v2 262.0.0
 * (src/purecloud-platform-client-v2/PureCloudRegionHosts.js; in the repository
 * github.com/MyPureCloud/platform-client-sdk-javascript under build/src/), with the SDK's region
 * names in the comments. A region Genesys adds goes here and in docs/PROVIDERS.md.
 */
export const genesysRegions = [
  "mypurecloud.com", // us_east_1
  "mypurecloud.ie", // eu_west_1
  "mypurecloud.com.au", // ap_southeast_2
  "mypurecloud.jp", // ap_northeast_1
  "mypurecloud.de", // eu_central_1
  "usw2.pure.cloud", // us_west_2
  "cac1.pure.cloud", // ca_central_1
  "apne2.pure.cloud", // ap_northeast_2
  "euw2.pure.cloud", // eu_west_2
  "aps1.pure.cloud", // ap_south_1
  "use2.us-gov-pure.cloud", // us_east_2
  "sae1.pure.cloud", // sa_east_1
  "mec1.pure.cloud", // me_central_1
  "apne3.pure.cloud", // ap_northeast_3
  "euc2.pure.cloud", // eu_central_2
  "mxc1.pure.cloud", // mx_central_1
  "apse1.pure.cloud", // ap_southeast_1
  "edee1.eusc-pure.cloud" // eusc_de_east_1
] as const

export const GenesysConfig = Schema.Struct({
  region: Schema.Literal(...genesysRegions).annotations({ message: () => "not a known Genesys Cloud region" }),
  clientId: Schema.String,
  clientSecret: Secret,
  integrationId: Schema.String,
  queueId: Schema.String,
  webhookSecret: Secret,
  /** Overrides of the region's hosts (a proxy, or the sandbox's simulator). */
  apiBaseUrl: Schema.optional(Schema.String),
  loginBaseUrl: Schema.optional(Schema.String)
})
export type GenesysConfig = typeof GenesysConfig.Type
export const CiscoConfig = Schema.Struct({
  baseUrl: Schema.String,
  feedId: Schema.String,
  queueTag: Schema.String,
  apiKey: Schema.optional(Secret)
})
export type CiscoConfig = typeof CiscoConfig.Type
export const ZendeskConfig = Schema.Struct({
  appId: Schema.String,
  keyId: Schema.String,
  keySecret: Secret,
  webhookSecret: Secret,
  apiBaseUrl: Schema.String
})
export type ZendeskConfig = typeof ZendeskConfig.Type

/** A timeout of at most 30 days: a session a tenant's timeout keeps open holds its subscriber for hbf-bot's requests. */
const TimeoutSeconds = Schema.Int.pipe(
  Schema.between(1, 30 * 24 * 60 * 60, { message: () => "expected whole seconds from 1 to 2592000 (30 days)" })
)

export const Timeouts = Schema.Struct({
  pendingSeconds: Schema.optionalWith(TimeoutSeconds, { default: () => 900 }),
  inactivitySeconds: Schema.optionalWith(TimeoutSeconds, { default: () => 1800 }),
  /** hbf-bot gets `request.wait-warning` once a request has waited this long. */
  waitWarningSeconds: Schema.optionalWith(TimeoutSeconds, { exact: true }),
  /** hbf-bot gets `session.inactivity-warning` this long before an inactivity close. */
  inactivityWarningSeconds: Schema.optionalWith(TimeoutSeconds, { exact: true })
}).pipe(
  Schema.filter((t) =>
    t.inactivityWarningSeconds === undefined || t.inactivityWarningSeconds < t.inactivitySeconds
      ? undefined
      : { path: ["inactivityWarningSeconds"], message: "must be less than inactivitySeconds" }
  )
)

/** Event type -> the hbf flow to trigger for it. */
export const FlowTriggers = Schema.partial(Schema.Record({ key: EventType, value: Schema.String }))

const integrationTypes = {
  HELVIA_LIVECHAT: "helvia-livechat",
  CISCO_LIVECHAT: "cisco-livechat",
  GENESYS_LIVECHAT: "genesys-livechat",
  ZENDESK_LIVECHAT: "zendesk"
} as const satisfies Record<string, ProviderAlias>

const LivechatIntegration = Schema.Struct({
  id: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  type: Schema.Literal(...(Object.keys(integrationTypes) as Array<keyof typeof integrationTypes>)),
  businessHours: Schema.optional(BusinessHours),
  timeouts: Schema.optionalWith(Timeouts, { default: () => ({ pendingSeconds: 900, inactivitySeconds: 1800 }) }),
  flowTriggers: Schema.optionalWith(FlowTriggers, { default: () => ({}) }),
  helvia: Schema.optional(HelviaConfig),
  genesys: Schema.optional(GenesysConfig),
  cisco: Schema.optional(CiscoConfig),
  zendesk: Schema.optional(ZendeskConfig)
})

/** The provider-specific block, tagged by provider so adapters get their own config typed. */
export type ProviderConfig =
  | { readonly provider: "helvia-livechat"; readonly helvia: typeof HelviaConfig.Type }
  | { readonly provider: "genesys-livechat"; readonly genesys: typeof GenesysConfig.Type }
  | { readonly provider: "cisco-livechat"; readonly cisco: typeof CiscoConfig.Type }
  | { readonly provider: "zendesk"; readonly zendesk: typeof ZendeskConfig.Type }

export type LivechatConfig = ProviderConfig & {
  /** The tenant whose config this is: provider credentials and caches are keyed by it. */
  readonly tenantId: string
  readonly integrationId: string
  readonly name?: string
  readonly businessHours?: BusinessHours
  readonly timeouts: typeof Timeouts.Type
  readonly flowTriggers: typeof FlowTriggers.Type
}

/** The livechat config narrowed to `provider`, when it is that provider's. */
export const configFor = <P extends ProviderAlias>(
  config: LivechatConfig,
  provider: P
): Option.Option<Extract<LivechatConfig, { readonly provider: P }>> =>
  config.provider === provider
    ? Option.some(config as Extract<LivechatConfig, { readonly provider: P }>)
    : Option.none()

/** The tenant's usable livechat config, when it is `provider`'s. */
export const tenantConfigFor = <P extends ProviderAlias>(tenant: Tenant, provider: P) =>
  Option.flatMap(Either.getRight(tenant.livechat), (config) => configFor(config, provider))

export interface Tenant {
  readonly id: string
  readonly displayName: string
  readonly timezone?: string
  readonly image?: string
  readonly organizationId: string
  /** Right: the enabled livechat plugin; Left: why the tenant has none usable. */
  readonly livechat: Either.Either<LivechatConfig, string>
}

const TenantJson = Schema.Struct({
  id: Schema.String,
  displayName: Schema.optionalWith(Schema.String, { default: () => "" }),
  timezone: Schema.optional(Schema.String),
  image: Schema.optional(Schema.String),
  organization: Schema.Union(Schema.String, Schema.Struct({ id: Schema.String })),
  plugins: Schema.optionalWith(
    Schema.Array(
      Schema.Struct({
        category: Schema.String,
        integrationId: Schema.optional(Schema.String),
        integration: Schema.optional(Schema.Unknown)
      })
    ),
    { default: () => [] }
  )
})

const decodeIntegration = Schema.decodeUnknownEither(LivechatIntegration, { errors: "all" })

/**
 * The tenant's usable livechat config, or why there is none. Every reason names paths only:
 * the values of a plugin (its secrets among them) never reach an answer or a log line.
 */
const livechatOf = (
  tenantId: string,
  plugins: typeof TenantJson.Type["plugins"]
): Either.Either<LivechatConfig, string> => {
  const plugin = plugins.find((p) => p.category === "LIVECHAT")
  if (plugin === undefined) return Either.left("the tenant has no LIVECHAT plugin")
  return decodeIntegration(plugin.integration).pipe(
    Either.mapLeft((e) => `the LIVECHAT plugin is invalid: ${describeIssuesInline(e)}`),
    Either.flatMap((integration): Either.Either<LivechatConfig, string> => {
      if (!integration.enabled) return Either.left("the LIVECHAT plugin is disabled")
      const common = {
        tenantId,
        integrationId: plugin.integrationId ?? integration.id ?? "",
        ...(integration.name !== undefined ? { name: integration.name } : {}),
        ...(integration.businessHours !== undefined ? { businessHours: integration.businessHours } : {}),
        timeouts: integration.timeouts,
        flowTriggers: integration.flowTriggers
      }
      const provider = integrationTypes[integration.type]
      const missing = () => Either.left(`the ${integration.type} plugin has no "${blockOf[provider]}" block`)
      switch (provider) {
        case "helvia-livechat":
          return integration.helvia ? Either.right({ ...common, provider, helvia: integration.helvia }) : missing()
        case "genesys-livechat":
          return integration.genesys ? Either.right({ ...common, provider, genesys: integration.genesys }) : missing()
        case "cisco-livechat":
          return integration.cisco ? Either.right({ ...common, provider, cisco: integration.cisco }) : missing()
        case "zendesk":
          return integration.zendesk ? Either.right({ ...common, provider, zendesk: integration.zendesk }) : missing()
      }
    })
  )
}

const blockOf: Record<ProviderAlias, string> = {
  "helvia-livechat": "helvia",
  "genesys-livechat": "genesys",
  "cisco-livechat": "cisco",
  zendesk: "zendesk"
}

/** hbf-core's tenant JSON -> Tenant. Only the tenant's own shape can fail; a bad plugin is "not configured". */
export const decodeTenant = (json: unknown): Effect.Effect<Tenant, ParseResult.ParseError> =>
  Effect.map(
    Schema.decodeUnknown(TenantJson)(json),
    (tenant): Tenant => ({
      id: tenant.id,
      displayName: tenant.displayName,
      ...(tenant.timezone !== undefined ? { timezone: tenant.timezone } : {}),
      ...(tenant.image !== undefined ? { image: tenant.image } : {}),
      organizationId: typeof tenant.organization === "string" ? tenant.organization : tenant.organization.id,
      livechat: livechatOf(tenant.id, tenant.plugins)
    })
  )

export const Organization = Schema.Struct({
  id: Schema.String,
  displayName: Schema.optional(Schema.String),
  timezone: Schema.optional(Schema.String)
})
export type Organization = typeof Organization.Type
