/** The hbf-* services' client on a real server: each run of a call has a deadline of its own. */
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { makeSandbox } from "../../sandbox/environment.js"
import { defaultRetryPolicy, outboundClient, OutboundHttpLive } from "../../src/infra/outbound.js"
import { ProviderEgressGuardLive } from "../../src/infra/ProviderEgressGuardLive.js"
import { AppConfig } from "../../src/services/AppConfig.js"

describe("outbound client", () => {
  it.live("the deadline counts from each run of a call: the same call run again after its deadline has passed gets its own", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      const config = { ...sandbox.config, upstream: { ...sandbox.config.upstream, deadline: Duration.millis(300) } }
      const context = yield* Layer.build(
        OutboundHttpLive.pipe(
          Layer.provideMerge(ProviderEgressGuardLive),
          Layer.provideMerge(Layer.succeed(AppConfig, config))
        )
      )
      const client = yield* outboundClient({
        baseUrl: config.hbfCore.url,
        bearer: config.hbfCore.token,
        retry: defaultRetryPolicy
      }).pipe(
        Effect.provide(Context.pick(NodeHttpClient.Dispatcher, AppConfig)(context))
      )
      const lookup = client.send({ method: "GET", path: "/tenants/demo-helvia" })
      expect((yield* lookup).status).toBe(200)
      yield* Effect.sleep(Duration.millis(400))
      expect((yield* lookup).status).toBe(200)
      expect(sandbox.core.tenantCalls("demo-helvia")).toBe(2)
    }).pipe(Effect.scoped))
})
