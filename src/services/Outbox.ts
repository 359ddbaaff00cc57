import type { Effect, Stream } from "effect"
import { Context, Schema } from "effect"
import { LivechatEvent } from "../domain/model.js"
import type { DeadLetterNotFound, StoreUnavailable } from "./errors.js"

/** Where an event goes: hbf-bot always, event-publisher for the tenant's flow triggers. */
export type DeliveryTarget = typeof DeliveryTarget.Type

export interface OutboxEntry {
  /** The entry's id in its partition (increasing in append order). */
  readonly id: string
  readonly partition: number
  readonly event: LivechatEvent
  /** Only these targets; absent = every target (a replayed dead letter names its own). */
  readonly targets?: ReadonlyArray<DeliveryTarget>
}

export const DeliveryTarget = Schema.Literal("hbf-bot", "event-publisher")

/** An event that one target refused for good or past the retry budget; kept until replayed. */
export const DeadLetter = Schema.Struct({
  id: Schema.String,
  event: LivechatEvent,
  target: DeliveryTarget,
  reason: Schema.String,
  attempts: Schema.Int,
  failedAt: Schema.String
}).annotations({ identifier: "DeadLetter" })
export type DeadLetter = typeof DeadLetter.Type

export type AckResult = "acked" | "not-owner"

/**
 * The per-partition, durable queue of events awaiting delivery. Entries are appended by
 * `SessionStore.commit` (atomically with the session change) and consumed here.
 */
export interface OutboxService {
  /**
   * The partition's entries in append order: first every entry not yet acked (also those
   * handed out before and never acked), then new ones as they are appended.
   */
  readonly consume: (partition: number) => Stream.Stream<OutboxEntry, StoreUnavailable>
  /** Forgets a delivered entry; "not-owner" when this instance no longer holds the partition (nothing changed). */
  readonly ack: (entry: OutboxEntry) => Effect.Effect<AckResult, StoreUnavailable>
  /** Records a dead letter for one target of the entry (the entry itself is acked separately). */
  readonly deadLetter: (letter: DeadLetter) => Effect.Effect<void, StoreUnavailable>
  readonly deadLetters: Effect.Effect<ReadonlyArray<DeadLetter>, StoreUnavailable>
  /** Appends the dead letter's event again, for its target only, and forgets the letter. */
  readonly replay: (id: string) => Effect.Effect<DeadLetter, DeadLetterNotFound | StoreUnavailable>
}

export class Outbox extends Context.Tag("hbf-lcg/Outbox")<Outbox, OutboxService>() {}

/** Sessions hash to partitions (FNV-1a), so every instance agrees on a session's partition. */
export const partitionOf = (sessionId: string, partitions: number): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < sessionId.length; i++) {
    hash ^= sessionId.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % partitions
}
