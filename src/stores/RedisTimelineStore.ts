/**
 * Timelines on Redis: one list per session, `P:tl:{sessionId}`, of JSON entries, trimmed to
 * the newest `LCG_TIMELINE_ENTRIES` and living as long as the session (timelineScripts.ts).
 * A batch is one pipeline of one script call per session.
 */
import { Duration, Effect, Either, Layer, Schema } from "effect"
import { TimelineEntry } from "../domain/timeline.js"
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

/** Entries per script call: Lua's `unpack` has a stack limit of a few thousand values. */
const ENTRIES_PER_CALL = 1_000

const decodeEntry = Schema.decodeUnknownEither(Schema.parseJson(TimelineEntry))

export const redisTimelineStoreLayer = (settings: RedisTimelineStoreSettings) =>
  Layer.effect(
    TimelineStore,
    Effect.map(RedisStoreConnections, ({ redis }): TimelineStoreService => {
      const keys = redisKeys(settings.prefix)
      const timelineEntries = settings.timelineEntries ?? defaultAppConfig.timelineEntries
      const max = String(timelineEntries)
      const retentionMs = String(Duration.toMillis(settings.endedRetention))
      return {
        append: (appends) =>
          redisCall("timeline append", () => {
            const pipeline = redis.pipeline()
            for (const { entries, sessionId } of appends) {
              // More than the timeline keeps would be trimmed at once: only the newest are sent.
              const kept = entries.length > timelineEntries
                ? entries.slice(entries.length - timelineEntries)
                : entries
              for (let from = 0; from < kept.length; from += ENTRIES_PER_CALL) {
                pipeline.lcgAppendTimeline(
                  2,
                  keys.timeline(sessionId),
                  keys.session(sessionId),
                  max,
                  retentionMs,
                  ...kept.slice(from, from + ENTRIES_PER_CALL).map((entry) => JSON.stringify(entry))
                )
              }
            }
            return pipeline.exec().then((results) => {
              const failed = results?.find(([error]) => error !== null)
              if (failed !== undefined) throw failed[0]
            })
          }),
        read: (sessionId) =>
          Effect.flatMap(
            redisCall("timeline read", () => redis.lrange(keys.timeline(sessionId), 0, -1)),
            (lines) =>
              Either.all(lines.map((line) => decodeEntry(line))).pipe(
                Either.mapLeft(corruptStoreData("timeline entry"))
              )
          )
      }
    })
  )
