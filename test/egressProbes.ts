/** What the egress tests watch: the lines logged. */
import { Effect, HashMap, Logger } from "effect"

/** Runs `effect` with every line it (and what it starts) logs kept, as JSON of its message and annotations, in `logs`. */
export const recordingLogs = <A, E, R>(effect: (logs: ReadonlyArray<string>) => Effect.Effect<A, E, R>) => {
  const logs: Array<string> = []
  const recorder = Logger.make(({ annotations, message }) => {
    logs.push(JSON.stringify({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) }))
  })
  return effect(logs).pipe(Effect.provide(Logger.add(recorder)))
}
