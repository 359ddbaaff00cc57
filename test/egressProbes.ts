/** What the egress tests watch: connections that should never be made, and the lines logged. */
import { Effect, HashMap, Logger } from "effect"
import { type AddressInfo, createServer } from "node:net"

/** A TCP listener on loopback that counts the connections made to it and drops them (closed with the scope). */
export const connectionTrap = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly connections: () => number; readonly close: () => void }>((resume) => {
    let connections = 0
    const server = createServer((socket) => {
      connections++
      socket.destroy()
    })
    server.listen(
      0,
      "127.0.0.1",
      () =>
        resume(Effect.succeed({
          port: (server.address() as AddressInfo).port,
          connections: () => connections,
          close: () => server.close()
        }))
    )
  }),
  (trap) => Effect.sync(trap.close)
)

/** Runs `effect` with every line it (and what it starts) logs kept, as JSON of its message and annotations, in `logs`. */
export const recordingLogs = <A, E, R>(effect: (logs: ReadonlyArray<string>) => Effect.Effect<A, E, R>) => {
  const logs: Array<string> = []
  const recorder = Logger.make(({ annotations, message }) => {
    logs.push(JSON.stringify({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) }))
  })
  return effect(logs).pipe(Effect.provide(Logger.add(recorder)))
}
