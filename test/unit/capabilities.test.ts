/**
 * What each provider declares it carries (`capabilities`, docs/CONTRACTS.md#upstream-api) agrees
 * with what its adapter does: the calls it has, and what its `deliveryOf` (which its sendMessage
 * answers) makes of a long text and an attachment. README's table is the one the code renders.
 * What only the provider's API shows (attachments as files or links, the parts it got) is
 * checked against the simulators in test/e2e/capabilities.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { capabilitiesTable, withCapabilitiesTable } from "../../scripts/capabilitiesTable.js"
import { providerAliases } from "../../src/domain/model.js"
import { CiscoApi } from "../../src/providers/cisco/client.js"
import { makeCiscoProvider } from "../../src/providers/cisco/provider.js"
import { GenesysApi } from "../../src/providers/genesys/client.js"
import { makeGenesysProvider } from "../../src/providers/genesys/provider.js"
import { makeHelviaProvider } from "../../src/providers/helvia/provider.js"
import { providerCapabilities } from "../../src/providers/ProviderRegistryLive.js"
import { ZendeskApi } from "../../src/providers/zendesk/client.js"
import { makeZendeskProvider } from "../../src/providers/zendesk/provider.js"
import { AppConfig, defaultAppConfig } from "../../src/services/AppConfig.js"
import { Coordinator } from "../../src/services/Coordinator.js"
import { HbfLcm } from "../../src/services/HbfLcm.js"
import type { LivechatProvider } from "../../src/services/LivechatProvider.js"

/** The four adapters, built over clients that are never called here. */
const adapters = Effect.all([makeHelviaProvider, makeGenesysProvider, makeCiscoProvider, makeZendeskProvider]).pipe(
  Effect.provideService(HbfLcm, {} as never),
  Effect.provideService(GenesysApi, {} as never),
  Effect.provideService(CiscoApi, {} as never),
  Effect.provideService(ZendeskApi, {} as never),
  Effect.provideService(Coordinator, {} as never),
  Effect.provideService(AppConfig, defaultAppConfig as never)
)

const attachment = { url: "https://files.example/plan.pdf", contentType: "application/pdf", name: "plan.pdf" }

const eachAdapter = (check: (provider: LivechatProvider) => void) =>
  Effect.map(adapters, (providers) => {
    expect(providers.map((p) => p.alias).sort()).toEqual([...providerAliases].sort())
    for (const provider of providers) check(provider)
  })

describe("provider capabilities", () => {
  it.effect("each adapter answers the capabilities declared for its alias", () =>
    eachAdapter((provider) => {
      expect(provider.capabilities).toBe(providerCapabilities[provider.alias])
      expect(provider.capabilities.provider).toBe(provider.alias)
    }))

  it.effect("userTyping exactly when the adapter can send typing", () =>
    eachAdapter((provider) => {
      expect([provider.alias, provider.capabilities.userTyping]).toEqual([
        provider.alias,
        provider.sendTyping !== undefined
      ])
    }))

  it.effect("readReceipts.user exactly when the adapter can send read receipts", () =>
    eachAdapter((provider) => {
      expect([provider.alias, provider.capabilities.readReceipts.user]).toEqual([
        provider.alias,
        provider.sendRead !== undefined
      ])
    }))

  it.effect("queuePosition is the provider's only where the adapter asks the provider for queue figures", () =>
    eachAdapter((provider) => {
      if (provider.capabilities.queuePosition === "provider") expect(provider.queueFigures).toBeDefined()
    }))

  it.effect("a text of maxTextLength is one message; one character more is split exactly where the provider splits", () =>
    eachAdapter(({ alias, capabilities, deliveryOf }) => {
      const { maxTextLength, splitsLongText } = capabilities
      expect([alias, deliveryOf({ messageId: "m1", text: "x".repeat(maxTextLength) })]).toEqual([alias, { parts: 1 }])
      expect([alias, deliveryOf({ messageId: "m2", text: "x".repeat(maxTextLength + 1) })]).toEqual([
        alias,
        { parts: splitsLongText ? 2 : 1 }
      ])
    }))

  it.effect("an attachment is delivered as userAttachments says; a message without any says nothing of attachments", () =>
    eachAdapter(({ alias, capabilities, deliveryOf }) => {
      const fate = { native: "native", "as-links": "as-links", none: "dropped" }[capabilities.userAttachments]
      expect([alias, deliveryOf({ messageId: "m1", text: "hi", attachments: [attachment] }).attachments]).toEqual([
        alias,
        fate
      ])
      expect(deliveryOf({ messageId: "m2", text: "hi" })).not.toHaveProperty("attachments")
      expect(deliveryOf({ messageId: "m3", text: "hi", attachments: [] })).not.toHaveProperty("attachments")
    }))

  it("README.md's capabilities table is the one the code renders (npm run docs:capabilities writes it)", () => {
    const readme = readFileSync("README.md", "utf8")
    expect(readme).toContain(capabilitiesTable())
    expect(withCapabilitiesTable(readme)).toBe(readme)
  })
})
