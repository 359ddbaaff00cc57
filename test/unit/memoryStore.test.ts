import { MemoryStoreLive } from "../../src/layers/MemoryStore.js"
import { PARTITIONS, storeContract } from "./storeContract.js"

storeContract("MemoryStoreLive", () => MemoryStoreLive({ partitions: PARTITIONS }))
