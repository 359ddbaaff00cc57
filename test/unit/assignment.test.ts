import { describe, expect, it } from "@effect/vitest"
import { assignPartitions, type Owners } from "../../src/cluster/assignment.js"

const countOf = (owners: Owners) => {
  const counts = new Map<string, number>()
  for (const o of owners) if (o !== undefined) counts.set(o, (counts.get(o) ?? 0) + 1)
  return Object.fromEntries([...counts].sort())
}
const moved = (before: Owners, after: Owners) => before.filter((o, p) => o !== after[p]).length

describe("partition assignment", () => {
  it("splits 64 partitions over 3 members evenly (within one)", () => {
    const owners = assignPartitions(64, ["a", "b", "c"], [])
    expect(owners.every((o) => o !== undefined)).toBe(true)
    expect(Object.values(countOf(owners)).sort()).toEqual([21, 21, 22])
  })

  it("a joining member takes only its share; the others keep what they had", () => {
    const two = assignPartitions(64, ["a", "b"], [])
    const three = assignPartitions(64, ["a", "b", "c"], two)
    expect(countOf(three)).toEqual({ a: 22, b: 21, c: 21 })
    expect(moved(two, three)).toBe(21)
    // Every partition that moved went to the new member.
    expect(three.filter((o, p) => o !== two[p]).every((o) => o === "c")).toBe(true)
  })

  it("a member's departure moves only its partitions", () => {
    const three = assignPartitions(64, ["a", "b", "c"], [])
    const two = assignPartitions(64, ["a", "c"], three)
    expect(moved(three, two)).toBe(three.filter((o) => o === "b").length)
    expect(Object.values(countOf(two)).sort()).toEqual([32, 32])
  })

  it("is stable: the same members and owners give the same assignment", () => {
    const once = assignPartitions(64, ["a", "b", "c"], [])
    expect(assignPartitions(64, ["c", "a", "b"], once)).toEqual(once)
  })

  it("with no members nothing is owned", () => {
    expect(assignPartitions(4, [], ["a", "a", "b", "b"])).toEqual([undefined, undefined, undefined, undefined])
  })
})
