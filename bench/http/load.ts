/** Load generation over undici keep-alive pools: closed loop (fixed concurrency) and open loop (fixed rate). */
import { Pool } from "undici"
import { cpuSeconds, percentile } from "../measure.js"

export interface Request {
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
}

export interface LoadResult {
  readonly requests: number
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** CPU time the server process spent per request, in microseconds. */
  readonly serverCpuUsPerRequest: number
  /** The server process's CPU as a share of one core while measured. */
  readonly serverCores: number
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

/**
 * Closed-loop load: `concurrency` requests in flight over keep-alive connections, for
 * `warmupMs` (not counted) and then `durationMs`. Any answer but `expectStatus` fails the run.
 */
export const closedLoop = async (options: {
  readonly url: string
  readonly serverPid: number
  readonly concurrency: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly expectStatus: number
  readonly request: (i: number) => Request
}): Promise<LoadResult> => {
  const pool = new Pool(options.url, { connections: options.concurrency, pipelining: 1 })
  let next = 0
  let measuring = false
  let stop = false
  const latencies: Array<number> = []
  const worker = async () => {
    while (!stop) {
      const { body, headers, path } = options.request(next++)
      const startedAt = performance.now()
      const response = await pool.request({ method: "POST", path, headers, body })
      const text = await response.body.text()
      if (response.statusCode !== options.expectStatus) {
        stop = true
        throw new Error(`POST ${path} answered ${response.statusCode}: ${text.slice(0, 300)}`)
      }
      if (measuring) latencies.push(performance.now() - startedAt)
    }
  }
  const workers = Array.from({ length: options.concurrency }, worker)
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs))
  measuring = true
  const cpuBefore = cpuSeconds(options.serverPid)
  const startedAt = performance.now()
  await new Promise((resolve) => setTimeout(resolve, options.durationMs))
  measuring = false
  const seconds = (performance.now() - startedAt) / 1000
  const cpu = cpuSeconds(options.serverPid) - cpuBefore
  const counted = latencies.length
  stop = true
  await Promise.all(workers)
  await pool.close()
  latencies.sort((a, b) => a - b)
  return {
    requests: counted,
    perSecond: Math.round(counted / seconds),
    p50Ms: round(percentile(latencies, 0.5), 2),
    p99Ms: round(percentile(latencies, 0.99), 2),
    serverCpuUsPerRequest: Math.round((cpu * 1e6) / counted),
    serverCores: round(cpu / seconds, 2)
  }
}

/**
 * Open-loop load: `perSecond` requests started on a fixed schedule (in 10 ms ticks) for
 * `durationMs`, whatever the answers' speed, so queueing shows in the latencies. Returns
 * each request's start time and its answer latency.
 */
export const openLoop = async (options: {
  readonly url: string
  readonly perSecond: number
  readonly durationMs: number
  readonly expectStatus: number
  readonly request: (i: number) => Request
}) => {
  const pool = new Pool(options.url, { connections: 128, pipelining: 1 })
  const startedAt: Array<number> = []
  const answeredMs: Array<number> = []
  const inFlight: Array<Promise<void>> = []
  const tickMs = 10
  const total = Math.round((options.perSecond * options.durationMs) / 1000)
  const began = performance.now()
  let sent = 0
  const send = (i: number) => {
    const { body, headers, path } = options.request(i)
    const at = performance.now()
    startedAt[i] = at
    return pool.request({ method: "POST", path, headers, body }).then(async (response) => {
      const text = await response.body.text()
      if (response.statusCode !== options.expectStatus) {
        throw new Error(`POST ${path} answered ${response.statusCode}: ${text.slice(0, 300)}`)
      }
      answeredMs[i] = performance.now() - at
    })
  }
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - began) * options.perSecond) / 1000) + 1)
    while (sent < due) inFlight.push(send(sent++))
    await new Promise((resolve) => setTimeout(resolve, tickMs))
  }
  await Promise.all(inFlight)
  await pool.close()
  return { startedAt, answeredMs, seconds: (performance.now() - began) / 1000 }
}
