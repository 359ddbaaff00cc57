/** What the benchmarks read off a run: percentiles, and a process's CPU time and memory from /proc. */
import { readFileSync } from "node:fs"

const CLOCK_TICKS_PER_SECOND = 100

/** The p-quantile (0..1) of ascending values. */
export const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

/** CPU seconds (user + system) the process has used so far. */
export const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** The process's resident memory, MiB. */
export const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024

/** The median of some values (the upper one of an even count). */
export const median = (values: ReadonlyArray<number>) => percentile([...values].sort((a, b) => a - b), 0.5)
