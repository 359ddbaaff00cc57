/**
 * Timelines on Redis: one list per session, `P:tl:{sessionId}`, of entries in their stored form (encodeStoredEntry), trimmed to
 * the first and the newest `LCG_TIMELINE_ENTRIES - 1` and living as long as the session (timelineScripts.ts).
 * A batch is one script call for all its sessions (a few, one after the other, for a very large batch).
 */
import { Duration, Effect, Either, Layer } from "effect"
import { decodeStoredEntry, encodeStoredEntry, type TimelineEntry } from "../domain/timeline.js"
import { redisCall } from "../infra/redis/connection.js"
import { redisKeys } from "../infra/redis/keys.js"
import { defaultAppConfig } from "../services/AppConfig.js"
import { TimelineAppendFailed, TimelineStore, type TimelineStoreService } from "../services/Timeline.js"
import { RedisStoreConnections } from "./RedisStoreConnections.js"

export interface RedisTimelineStoreSettings {
  readonly prefix: string
  /** How long an ended session is kept: a timeline whose session is gone is kept this long. */
  readonly endedRetention: Duration.Duration
  /** LCG_TIMELINE_ENTRIES; 200 unless given. */
  readonly timelineEntries?: number
}

/** Arguments of one script call beyond the keys: Lua's `unpack` has a stack limit of a few thousand values. */
const ARGS_PER_CALL = 4_000

/** One script call: its sessions, their (timeline, session) keys, and per session the count of its entries and the entries. */
interface ScriptCall {
  readonly sessionIds: Array<string>
  readonly keys: Array<string>
  readonly args: Array<string>
}

export const redisTimelineStoreLayer = (settings: RedisTimelineStoreSettings) =>
  Layer.effect(
    TimelineStore,
    Effect.map(RedisStoreConnections, ({ redis }): TimelineStoreService => {
      const keys = redisKeys(settings.prefix)
      const timelineEntries = settings.timelineEntries ?? defaultAppConfig.timelineEntries
      const max = String(timelineEntries)
      const retentionMs = String(Duration.toMillis(settings.endedRetention))
      return {
        append: (appends) => {
          // One call per batch of sessions, at most ARGS_PER_CALL arguments each (Lua's stack).
          const calls: Array<ScriptCall> = []
          let call: ScriptCall = { sessionIds: [], keys: [], args: [] }
          for (const { entries, sessionId } of appends) {
            // More than a timeline keeps would be trimmed at once: only the first (the timeline's
            // first when it is new) and the newest are sent.
            const kept = entries.length > timelineEntries
              ? [entries[0]!, ...entries.slice(entries.length - timelineEntries + 1)]
              : entries
            if (call.args.length > 0 && call.args.length + kept.length + 1 > ARGS_PER_CALL) {
              calls.push(call)
              call = { sessionIds: [], keys: [], args: [] }
            }
            call.sessionIds.push(sessionId)
            call.keys.push(keys.timeline(sessionId), keys.session(sessionId))
            call.args.push(String(kept.length))
            for (const entry of kept) call.args.push(encodeStoredEntry(entry))
          }
          if (call.args.length > 0) calls.push(call)
          // One after the other: when one fails, the sessions of the calls made are written and
          // those of the rest are not, and only the latter are given back to be sent again.
          return Effect.forEach(calls, (c, i) =>
            Effect.mapError(
              redisCall(
                "timeline append",
                () => redis.lcgAppendTimelines(c.keys.length, ...c.keys, max, retentionMs, ...c.args)
              ),
              (cause) => new TimelineAppendFailed({ cause, unwritten: calls.slice(i).flatMap((r) => r.sessionIds) })
            ), { discard: true })
        },
        read: (sessionId) =>
          Effect.flatMap(
            redisCall("timeline read", () => redis.lrange(keys.timeline(sessionId), 0, -1)),
            (lines) => {
              // An entry this version cannot read (a newer version's kind, during a rolling
              // upgrade) is left out rather than making the whole timeline unreadable.
              const entries: Array<TimelineEntry> = []
              for (const line of lines) Either.map(decodeStoredEntry(line), (entry) => entries.push(entry))
              const unreadable = lines.length - entries.length
              return unreadable === 0 ? Effect.succeed(entries) : Effect.as(
                Effect.logWarning("timeline entries this version cannot read left out", { unreadable }),
                entries
              )
            }
          )
      }
    })
  )
