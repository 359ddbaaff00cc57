/**
 * The Sunshine backstop in a cluster of gateway processes: webhooks reach any instance; the
 * backstop of a session runs on the owner of its partition. When that owner is killed while
 * the agent's webhooks are being lost, the survivor's backstop recovers them from the cursor
 * stored with the session, and the ticket's close ends the session there.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { partitionOf } from "../../src/services/Outbox.js"
import { eventually } from "../eventually.js"
import { ownersCount, startClusterWith } from "./clusterHarness.js"
import { deleteKeys } from "./redis.js"

const prefixes: Array<string> = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

describe("the Sunshine backstop in a cluster", () => {
  it.live(
    "the owner of the session's partition killed while webhooks are lost: the survivor's backstop recovers them, once each",
    () =>
      Effect.gen(function*() {
        const { createSession, prefix, sandbox, start, status } = yield* startClusterWith({
          ZENDESK_POLL_INTERVAL_MS: "300"
        })
        prefixes.push(prefix)
        const a = yield* start("gw-a")
        const b = yield* start("gw-b")
        const split = yield* eventually("an even split", status(a), (s) =>
          Object.values(ownersCount(s)).join() === "32,32")

        const created = yield* createSession(a, "iris", "demo-zendesk")
        const conversationId = created.providerConversationId!
        const partition = partitionOf(created.sessionId, split.partitions.length)
        const [owner, survivor] = split.partitions[partition]!.owner === "gw-a" ? [a, b] : [b, a]
        // Sunshine's webhooks go to the survivor, which does not own the session's partition (yet).
        yield* sandbox.zendesk.setWebhookUrl(`${survivor.url}/events/zendesk`)
        const texts = () =>
          sandbox.bot
            .eventsOf(created.sessionId)
            .filter((e) =>
              e.type === "agent.message"
            )
            .map((e) => (e.data as { text: string }).text)

        yield* sandbox.zendesk.agentSay(conversationId, "by webhook")
        yield* eventually("the first message", Effect.sync(texts), (t) => t.length >= 1)

        yield* owner.process.kill("SIGKILL")
        yield* sandbox.zendesk.dropNextWebhooks(2, (e) => e.type === "conversation:message")
        yield* sandbox.zendesk.agentSay(conversationId, "lost 1")
        yield* sandbox.zendesk.agentSay(conversationId, "lost 2")
        yield* eventually("the survivor owns the partition", status(survivor), (s) =>
          s.partitions[partition]!.owner === survivor.id)
        yield* eventually("the lost messages recovered", Effect.sync(texts), (t) =>
          t.includes("lost 2"), Duration.seconds(15))
        yield* sandbox.zendesk.closeTicket(conversationId)
        const types = () =>
          sandbox.bot.eventsOf(created.sessionId).map((e) =>
            e.type
          )
        yield* eventually("the end delivered", Effect.sync(types), (t) =>
          t.includes("session.ended"), Duration.seconds(10))
        yield* Effect.sleep(Duration.millis(500))

        // kill -9 may cost one redelivery of an event delivered but not yet acked (same id); nothing is made twice.
        const received = sandbox.bot.eventsOf(created.sessionId)
        const firsts = received.filter((e, i) =>
          received.findIndex((o) =>
            o.id === e.id
          ) === i
        )
        expect(firsts.map((e) =>
          e.type
        )).toEqual([
          "request.queued",
          "agent.joined",
          "agent.message",
          "agent.message",
          "agent.message",
          "agent.left",
          "session.ended"
        ])
        expect(
          texts().filter((t, i, all) =>
            all.indexOf(t) === i
          )
        ).toEqual(["by webhook", "lost 1", "lost 2"])
        expect(received.length - firsts.length).toBeLessThanOrEqual(1)
      }).pipe(Effect.scoped),
    60_000
  )
})
