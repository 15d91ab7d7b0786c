// Item 8: the live stream under load. One API instance (the CLI) serves `sse` SSE clients and `ws`
// WebSocket clients while a second API instance takes `rate` readings/s by POST /data: the readings
// reach the first through Redis pub/sub, as they would from any writer. 1,000 sensors in 10 groups
// (`live-<g>-<i>`); client k asks for group k mod 10 by glob (`live-<g>-*`), so each gets a tenth of
// the readings. Delay: from the reading's timestamp (set just before its POST) to its arrival at a
// client. Every client's count is checked against what was posted for its group.
import http from 'node:http'
import WebSocket from 'ws'
import { startApiCli } from './api.ts'
import type { Bench } from './context.ts'
import { cpuSeconds, peakRssMb } from './proc.ts'
import { percentile } from './stats.ts'
import { sleep, until } from './wait.ts'

const GROUPS = 10
const PER_GROUP = 100
const TICK_MS = 50

export interface LiveRun {
  readonly sse: number
  readonly ws: number
  readonly rate: number
  readonly posted: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** clients that did not receive every reading of their group */
  readonly incomplete: number
  readonly apiPeakRssMb: number
  /** CPU of the serving API while readings flowed, in % of one core */
  readonly apiCpuPercent: number
  /** CPU of the bench process (every client and the posting) meanwhile: near 100 %, it is what limits */
  readonly clientsCpuPercent: number
}

interface Client {
  readonly group: number
  received: number
  close(): void
}

export async function measureLive(bench: Bench, options: { sse: number; ws: number; rate: number; seconds: number }): Promise<LiveRun> {
  const db = await bench.database('live')
  const prefix = `${bench.name('live')}:`
  const [reader, writer] = await Promise.all([startApiCli(bench, db, prefix), startApiCli(bench, db, prefix)])
  const delays: number[] = []
  const clients: Client[] = []
  try {
    const take = (client: Client, text: string): void => {
      const now = Date.now()
      for (const m of text.matchAll(/"timestamp":([0-9.]+)/g)) {
        client.received++
        delays.push(now - Math.round(Number(m[1]) * 1000))
      }
    }
    const opened: Promise<void>[] = []
    for (let k = 0; k < options.sse; k++) {
      const client: Client = { group: k % GROUPS, received: 0, close: () => undefined }
      clients.push(client)
      opened.push(
        new Promise<void>((resolve, reject) => {
          const req = http.get(`${reader.url}/stream?sensor_id=live-${client.group}-*`, { agent: false }, (res) => {
            if (res.statusCode !== 200) reject(new Error(`GET /stream: ${res.statusCode}`))
            res.setEncoding('utf8')
            let pending = ''
            res.on('data', (chunk: string) => {
              pending += chunk
              const end = pending.lastIndexOf('\n\n')
              if (end < 0) return
              take(client, pending.slice(0, end))
              pending = pending.slice(end + 2)
            })
            resolve()
          })
          req.on('error', reject)
          client.close = () => req.destroy()
        })
      )
    }
    for (let k = 0; k < options.ws; k++) {
      const client: Client = { group: k % GROUPS, received: 0, close: () => undefined }
      clients.push(client)
      opened.push(
        new Promise<void>((resolve, reject) => {
          const socket = new WebSocket(`${reader.url.replace('http', 'ws')}/ws?sensor_id=live-${client.group}-*`)
          socket.on('message', (data) => {
            const text = String(data)
            if (text.startsWith('{"type":"readings"')) take(client, text)
            else if (text.includes('"subscribed"')) resolve()
          })
          socket.on('error', reject)
          client.close = () => socket.terminate()
        })
      )
    }
    await Promise.all(opened)
    // The writer's publisher asks who listens at most every 250 ms.
    await sleep(1000)

    const posted = new Array<number>(GROUPS).fill(0)
    const lastTs = new Map<string, number>()
    let n = 0
    const cpuBefore = cpuSeconds(reader.cli.pid)
    const ownBefore = process.cpuUsage()
    const started = Date.now()
    const perTick = Math.max(1, Math.round((options.rate * TICK_MS) / 1000))
    const inFlight = new Set<Promise<void>>()
    for (let tick = 0; Date.now() - started < options.seconds * 1000; tick++) {
      const readings = Array.from({ length: perTick }, () => {
        const i = n++ % (GROUPS * PER_GROUP)
        const group = i % GROUPS
        const sensor = `live-${group}-${Math.floor(i / GROUPS)}`
        const ts = Math.max(Date.now(), (lastTs.get(sensor) ?? 0) + 1)
        lastTs.set(sensor, ts)
        posted[group] = (posted[group] as number) + 1
        return { sensor_id: sensor, value: i, timestamp: ts / 1000 }
      })
      const post = fetch(`${writer.url}/data`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(readings) }).then(
        async (res) => {
          if (res.status !== 201) throw new Error(`POST /data: ${res.status} ${await res.text()}`)
        }
      )
      inFlight.add(post)
      void post.finally(() => inFlight.delete(post))
      const next = started + (tick + 1) * TICK_MS
      await sleep(Math.max(0, next - Date.now()))
    }
    await Promise.all(inFlight)
    const seconds = (Date.now() - started) / 1000
    const cpu = cpuSeconds(reader.cli.pid) - cpuBefore
    const own = process.cpuUsage(ownBefore)
    const total = n
    await until('every client to have its readings', async () => clients.every((c) => c.received >= (posted[c.group] as number)), {
      timeoutMs: 10_000,
      everyMs: 100
    }).catch(() => undefined)
    const sorted = delays.sort((a, b) => a - b)
    return {
      sse: options.sse,
      ws: options.ws,
      rate: Math.round(total / seconds),
      posted: total,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      incomplete: clients.filter((c) => c.received !== posted[c.group]).length,
      apiPeakRssMb: peakRssMb(reader.cli.pid),
      apiCpuPercent: Math.round((cpu / seconds) * 100),
      clientsCpuPercent: Math.round(((own.user + own.system) / 1e6 / seconds) * 100)
    }
  } finally {
    for (const c of clients) c.close()
    await Promise.all([reader.stop(), writer.stop()])
  }
}
