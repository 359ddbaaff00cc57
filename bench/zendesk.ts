/**
 * `npm run bench:zendesk`: Sunshine webhooks into the real gateway on loopback, on the
 * in-memory store and on Redis. 2,000 `conversation:message` webhooks (an agent message
 * each, with the X-API-Key) over 50 open Sunshine livechats, 32 at a time: webhook answers
 * per second and their latency, and the time from posting a webhook to hbf-bot receiving
 * its event. Writes bench/zendesk.json.
 */
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { demoZendesk } from "../sandbox/demoTenants.js"
import { startGateway, type StoreKind } from "../test/e2e/harness.js"
import { agentMessageWebhook } from "../test/e2e/zendeskWebhooks.js"
import { percentile } from "./measure.js"
import { runBenchmark } from "./runBenchmark.js"

const WEBHOOKS = 2000
const CONCURRENCY = 32
const SESSIONS = 50

const webhook = (conversationId: string, i: number) => {
  const messageId = i.toString(16).padStart(24, "0")
  return {
    messageId,
    body: JSON.stringify(
      agentMessageWebhook(conversationId, `bench-${i}`, messageId, `agent message ${i}`, new Date().toISOString())
    )
  }
}

const run = (store: StoreKind) =>
  Effect.gen(function*() {
    const gw = yield* startGateway({ store })
    const conversations: Array<{ sessionId: string; conversationId: string }> = []
    for (let s = 0; s < SESSIONS; s++) {
      const created = yield* gw.call("POST", "/requests", { tenantId: "demo-zendesk", subHandle: `bench-${s}` })
      conversations.push({ sessionId: created.body.sessionId, conversationId: created.body.providerConversationId })
    }
    const sentAt = new Map<string, number>()
    const answers: Array<number> = []
    let next = 0
    const started = performance.now()
    yield* Effect.promise(() =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < WEBHOOKS) {
            const i = next++
            const { body, messageId } = webhook(conversations[i % SESSIONS]!.conversationId, i)
            const t = performance.now()
            sentAt.set(`zendesk:message:${messageId}`, Date.now())
            const response = await fetch(`${gw.url}/events/zendesk`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-api-key": demoZendesk.webhookSecret },
              body
            })
            if (response.status !== 200) throw new Error(`webhook answered ${response.status}`)
            await response.arrayBuffer()
            answers.push(performance.now() - t)
          }
        })
      )
    )
    const seconds = (performance.now() - started) / 1000
    yield* gw.bot.waitFor((es) => es.filter((e) => e.type === "agent.message").length >= WEBHOOKS, "60 seconds")
    const delivered = (performance.now() - started) / 1000
    const delays = [...sentAt].map(([id, at]) => (gw.bot.firstReceivedAt(id) ?? Number.NaN) - at).sort((a, b) => a - b)
    answers.sort((a, b) => a - b)
    return {
      webhooksPerSecond: Math.round(WEBHOOKS / seconds),
      answerP50Ms: Number(percentile(answers, 0.5).toFixed(1)),
      answerP99Ms: Number(percentile(answers, 0.99).toFixed(1)),
      deliveredPerSecond: Math.round(WEBHOOKS / delivered),
      deliveryP50Ms: percentile(delays, 0.5),
      deliveryP99Ms: percentile(delays, 0.99)
    }
  }).pipe(Effect.scoped)

const program = Effect.gen(function*() {
  const results = {
    webhooks: WEBHOOKS,
    concurrency: CONCURRENCY,
    sessions: SESSIONS,
    memory: yield* run("memory"),
    redis: yield* run("redis")
  }
  console.table({ memory: results.memory, redis: results.redis })
  writeFileSync(new URL("./zendesk.json", import.meta.url), JSON.stringify(results, null, 2))
})

void runBenchmark(program)
