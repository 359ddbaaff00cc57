import { afterAll } from "@effect/vitest"
import { PARTITIONS, storeContract } from "../unit/storeContract.js"
import { deleteKeys, testStoreLayer, uniquePrefix } from "./redis.js"

const prefixes: Array<string> = []

storeContract(
  "RedisStoreLive",
  (retention) => {
    const prefix = uniquePrefix("contract")
    prefixes.push(prefix)
    return testStoreLayer(prefix, { partitions: PARTITIONS, ...retention })
  },
  "live"
)

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})
