import { Effect } from "effect"
const mod = process.argv[2]!
const { makeGenesysSim } = await import(mod)
await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
  const sim = yield* makeGenesysSim({ clients: [], integrations: [] })
  for (const [m, p, body] of [["POST", "/sim/conversations/nope/join", undefined], ["POST", "/sim/conversations/nope/join", "{}"], ["GET", "/sim/conversations", undefined], ["POST", "/sim/fail", '{"n":0,"status":500}']] as const) {
    const r = yield* Effect.promise(() => fetch(sim.baseUrl + p, { method: m, ...(body ? { body } : {}) }))
    console.log(m, p, r.status, yield* Effect.promise(() => r.text()))
  }
})))
