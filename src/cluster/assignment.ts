/**
 * Partition assignment, decided by the leader: balanced (every member owns floor(P/n) or
 * one more) and sticky (a partition keeps its owner while that owner is alive and under
 * its share), so a membership change moves as few partitions as possible.
 */

/** owners[p] is the instance owning partition p, or undefined. */
export type Owners = ReadonlyArray<string | undefined>

export const assignPartitions = (partitions: number, members: ReadonlyArray<string>, current: Owners): Owners => {
  if (members.length === 0) return Array.from({ length: partitions }, () => undefined)
  const alive = new Set(members)
  const held = new Map<string, number>()
  for (const owner of current) if (owner !== undefined && alive.has(owner)) held.set(owner, (held.get(owner) ?? 0) + 1)
  // The members holding the most get the extra partitions of an uneven split, so fewer move.
  const ordered = [...members].sort((a, b) => (held.get(b) ?? 0) - (held.get(a) ?? 0) || a.localeCompare(b))
  const base = Math.floor(partitions / members.length)
  const extra = partitions % members.length
  const quota = new Map(ordered.map((m, i) => [m, base + (i < extra ? 1 : 0)]))

  const owners: Array<string | undefined> = Array.from({ length: partitions }, () => undefined)
  const count = new Map<string, number>()
  for (let p = 0; p < partitions; p++) {
    const owner = current[p]
    if (owner === undefined || !alive.has(owner)) continue
    const n = count.get(owner) ?? 0
    if (n < quota.get(owner)!) {
      owners[p] = owner
      count.set(owner, n + 1)
    }
  }
  let next = 0
  for (let p = 0; p < partitions; p++) {
    if (owners[p] !== undefined) continue
    while ((count.get(ordered[next]!) ?? 0) >= quota.get(ordered[next]!)!) next++
    const member = ordered[next]!
    owners[p] = member
    count.set(member, (count.get(member) ?? 0) + 1)
  }
  return owners
}
