/**
 * /metrics after a whole Sunshine livechat: the counters and histograms an on-call engineer
 * reads moved (HTTP requests by route and status, provider calls, backstop polls, events
 * ingested and delivered with their lag), open sessions were counted while open, and the
 * cluster gauges say who this instance is.
 * Counters are per process (other tests run in it too), so each is compared with its value
 * before the livechat.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../eventually.js"
import { eventsReach, livechatRequest, metricValue, startGateway, typesOf } from "./harness.js"

describe("/metrics", () => {
  it.live("after a livechat the counters moved, in the Prometheus text format", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ configure: (config) => ({ ...config, zendeskPollIntervalMs: 200 }) })
      const scrape = Effect.map(gw.call("GET", "/metrics"), (r) => r.body as string)
      const before = yield* scrape
      const series = [
        ["lcg_http_requests_total", "route=\"/requests\",method=\"POST\",status=\"201\""],
        ["lcg_http_requests_total", "route=\"/messages\",method=\"POST\",status=\"202\""],
        ["lcg_http_requests_total", "route=\"/events/:alias\",method=\"POST\",status=\"200\""],
        ["lcg_http_requests_total", "route=\"unmatched\",method=\"GET\",status=\"404\""],
        ["lcg_provider_calls_total", "provider=\"zendesk\",outcome=\"2xx\""],
        ["lcg_poll_cycles_total", "poller=\"zendesk-backstop\",outcome=\"ok\""],
        ["lcg_events_ingested_total", "provider=\"zendesk\",type=\"agent.message\""],
        ["lcg_events_delivered_total", "target=\"hbf-bot\",provider=\"zendesk\",type=\"session.ended\""],
        ["lcg_delivery_lag_seconds_count", "target=\"hbf-bot\""],
        ["lcg_http_request_duration_seconds_count", "route=\"/requests\",method=\"POST\""]
      ] as const

      const created = yield* gw.call("POST", "/requests", livechatRequest("demo-zendesk", "mia"))
      const { providerConversationId: conversationId, sessionId } = created.body
      // The sweeps (every 200 ms here) count the open sessions by provider and state.
      yield* eventually("the pending session counted", scrape, (text) =>
        metricValue(text, "lcg_sessions_open", "provider=\"zendesk\",state=\"pending\"") === 1)
      expect(
        (yield* gw.call("POST", "/messages", {
          tenantId: "demo-zendesk",
          subHandle: "mia",
          messageId: "m1",
          text: "hi"
        })).status
      ).toBe(202)
      yield* gw.zendesk.agentSay(conversationId, "hello Mia")
      yield* eventsReach(gw, sessionId, 2)
      yield* gw.zendesk.closeTicket(conversationId)
      yield* eventually(
        "the end",
        Effect.sync(() =>
          typesOf(gw, sessionId)
        ),
        (types) => types.includes("session.ended")
      )
      expect((yield* gw.call("GET", "/no/such/route")).status).toBe(404)

      const after = yield* eventually(
        "every series moved",
        scrape,
        (text) => series.every(([name, labels]) => metricValue(text, name, labels) > metricValue(before, name, labels))
      )
      expect(
        metricValue(after, "lcg_events_ingested_total", "provider=\"zendesk\",type=\"agent.message\"") -
          metricValue(before, "lcg_events_ingested_total", "provider=\"zendesk\",type=\"agent.message\"")
      ).toBe(1)
      // A route template, never a raw path with ids in it.
      expect(after).not.toContain(sessionId)
      expect(after).toMatch(/^# TYPE lcg_http_request_duration_seconds histogram$/m)
      expect(after).toMatch(/^lcg_http_request_duration_seconds_bucket\{.*le="0\.005".*\} \d+$/m)
      yield* eventually(
        "no open session left",
        scrape,
        (text) =>
          metricValue(text, "lcg_sessions_open", "provider=\"zendesk\",state=\"pending\"") === 0 &&
          metricValue(text, "lcg_sessions_open", "provider=\"zendesk\",state=\"active\"") === 0
      )
      // A single-node sandbox: this instance leads and owns every partition.
      expect(metricValue(after, "lcg_cluster_leader")).toBe(1)
      expect(metricValue(after, "lcg_cluster_partitions_owned")).toBe(64)
    }).pipe(Effect.scoped), 30_000)
})
