/**
 * The Genesys Cloud regions a tenant may name (src/domain/tenant.ts): every host of the
 * Genesys SDK's `PureCloudRegionHosts` (purecloud-platform-client-v2 262.0.0), and calls to a
 * region go to its own API and login hosts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { demoGenesys, genesysTenant } from "../../sandbox/demoTenants.js"
import { decodeTenant, genesysRegions, tenantConfigFor } from "../../src/domain/tenant.js"
import { credentialsOf } from "../../src/providers/genesys/client.js"

/** The SDK's `PureCloudRegionHosts` of 262.0.0, region name to host, in its order. */
const sdkRegionHosts = {
  us_east_1: "mypurecloud.com",
  eu_west_1: "mypurecloud.ie",
  ap_southeast_2: "mypurecloud.com.au",
  ap_northeast_1: "mypurecloud.jp",
  eu_central_1: "mypurecloud.de",
  us_west_2: "usw2.pure.cloud",
  ca_central_1: "cac1.pure.cloud",
  ap_northeast_2: "apne2.pure.cloud",
  eu_west_2: "euw2.pure.cloud",
  ap_south_1: "aps1.pure.cloud",
  us_east_2: "use2.us-gov-pure.cloud",
  sa_east_1: "sae1.pure.cloud",
  me_central_1: "mec1.pure.cloud",
  ap_northeast_3: "apne3.pure.cloud",
  eu_central_2: "euc2.pure.cloud",
  mx_central_1: "mxc1.pure.cloud",
  ap_southeast_1: "apse1.pure.cloud",
  eusc_de_east_1: "edee1.eusc-pure.cloud"
}

/** A Genesys tenant in `region`, with no host overrides: its calls go where the region says. */
const tenantIn = (region: string) => {
  const json = genesysTenant("t-region", "http://unused.test")
  const plugin = json.plugins[0] as { integration: { genesys: Record<string, unknown> } }
  plugin.integration.genesys = { ...demoGenesys, region }
  return Effect.runSync(decodeTenant(json))
}

describe("Genesys Cloud regions", () => {
  it("a tenant may name any region of the Genesys SDK, and no other", () => {
    expect([...genesysRegions]).toEqual(Object.values(sdkRegionHosts))
    for (const region of Object.values(sdkRegionHosts)) {
      expect(Either.isRight(tenantIn(region).livechat), region).toBe(true)
    }
    expect(tenantIn("edee1.pure.cloud").livechat).toEqual(
      Either.left("the LIVECHAT plugin is invalid: genesys.region: not a known Genesys Cloud region")
    )
  })

  it("a tenant in the EU sovereign cloud (eusc_de_east_1) logs in and calls the API at edee1.eusc-pure.cloud", () => {
    const tenant = tenantIn("edee1.eusc-pure.cloud")
    const config = tenantConfigFor(tenant, "genesys-livechat")
    expect(config._tag).toBe("Some")
    if (config._tag !== "Some") return
    const credentials = credentialsOf(tenant.id, config.value.genesys)
    expect(credentials.loginBaseUrl).toBe("https://login.edee1.eusc-pure.cloud")
    expect(credentials.apiBaseUrl).toBe("https://api.edee1.eusc-pure.cloud")
  })
})
