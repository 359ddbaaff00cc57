/**
 * Timelines on Redis: one list per session, `P:tl:{sessionId}`, of entries in their stored form (encodeStoredEntry), trimmed to
 * the newest `LCG_TIMELINE_ENTRIES` and living as long as the session (timelineScripts.ts).
 * A batch is one script call for all its sessions (a few, for a very large batch).
 */
import { Duration, Effect, Either, Layer } from "effect"
import { decodeStoredEntry, encodeStoredEntry } from "../domain/timeline.js"
import { corruptStoreData, redisCall } from "../infra/redis/connection.js"
import { redisKeys } from "../infra/redis/keys.js"
import { defaultAppConfig } from "../services/AppConfig.js"
import { TimelineStore, type TimelineStoreService } from "../services/Timeline.js"
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
          if (appends.length === 0) return Effect.void
          // One call per batch of sessions, at most ARGS_PER_CALL arguments each (Lua's stack).
          const calls: Array<Array<string>> = []
          let call: Array<string> = []
          let keyList: Array<string> = []
          const endCall = () => {
            calls.push([String(keyList.length), ...keyList, max, retentionMs, ...call])
            call = []
            keyList = []
          }
          for (const { entries, sessionId } of appends) {
            // More than a timeline keeps would be trimmed at once: only the newest are sent.
            const kept = entries.length > timelineEntries ? entries.slice(entries.length - timelineEntries) : entries
            if (call.length > 0 && call.length + kept.length + 1 > ARGS_PER_CALL) endCall()
            keyList.push(keys.timeline(sessionId), keys.session(sessionId))
            call.push(String(kept.length))
            for (const entry of kept) call.push(encodeStoredEntry(entry))
          }
          endCall()
          return redisCall("timeline append", () =>
            Promise.all(
              calls.map(([numKeys, ...keysAndArgs]) => redis.lcgAppendTimelines(Number(numKeys), ...keysAndArgs))
            ))
        },
        read: (sessionId) =>
          Effect.flatMap(
            redisCall("timeline read", () => redis.lrange(keys.timeline(sessionId), 0, -1)),
            (lines) =>
              Either.all(lines.map(decodeStoredEntry)).pipe(
                Either.mapLeft(corruptStoreData("timeline entry"))
              )
          )
      }
    })
  )
