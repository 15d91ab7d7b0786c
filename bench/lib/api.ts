// Item 6: `sensorstream api` as users start it, loaded by autocannon (64 connections) on random sensors.
import autocannon from 'autocannon'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import { startCli, type Cli } from './child.ts'
import type { Bench } from './context.ts'
import { until } from './wait.ts'

export interface ApiServer {
  readonly url: string
  readonly cli: Cli
  stop(): Promise<void>
}

export async function startApiCli(bench: Bench, databaseUrl: string, prefix: string, env: Record<string, string> = {}): Promise<ApiServer> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const cli = startCli(
    'api',
    bench.env({ DATABASE_URL: databaseUrl, REDIS_KEY_PREFIX: prefix, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env })
  )
  await until('the API to answer', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, {
    timeoutMs: 60_000,
    everyMs: 100,
    child: cli
  })
  return {
    url,
    cli,
    stop: async () => {
      const code = await cli.stop()
      if (code !== 0) bench.progress(`  api exited with ${code}`)
    }
  }
}

export interface Endpoint {
  readonly key: 'recent' | 'data' | 'stats' | 'stats1m' | 'post'
  readonly label: string
  readonly request: () => { method: string; path: string; headers?: Record<string, string>; body?: string }
}

export function endpoints(sensors: number, day: { from: number; to: number }): Endpoint[] {
  const sensor = (): string => `sensor-${1 + Math.floor(Math.random() * sensors)}`
  let tick = 0
  return [
    { key: 'recent', label: 'GET /recent/:id', request: () => ({ method: 'GET', path: `/recent/${sensor()}` }) },
    { key: 'data', label: 'GET /data?sensor_id', request: () => ({ method: 'GET', path: `/data?sensor_id=${sensor()}` }) },
    {
      key: 'stats',
      label: 'GET /sensors/:id/stats (a day, 1h buckets)',
      request: () => ({ method: 'GET', path: `/sensors/${sensor()}/stats?from=${Math.floor(day.from)}&to=${Math.ceil(day.to)}&bucket=1h` })
    },
    {
      key: 'stats1m',
      label: 'GET /sensors/:id/stats (a day, 1m buckets)',
      request: () => ({ method: 'GET', path: `/sensors/${sensor()}/stats?from=${Math.floor(day.from)}&to=${Math.ceil(day.to)}&bucket=1m` })
    },
    {
      key: 'post',
      label: 'POST /data (100 readings)',
      request: () => {
        const now = Date.now()
        const readings = Array.from({ length: 100 }, () => ({
          sensor_id: sensor(),
          value: Math.round(Math.random() * 40_000) / 1000,
          timestamp: (now + (tick++ % 1000)) / 1000
        }))
        return { method: 'POST', path: '/data', headers: { 'content-type': 'application/json' }, body: JSON.stringify(readings) }
      }
    }
  ]
}

export interface ApiRun {
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly failed: number
}

export async function hammer(url: string, endpoint: Endpoint, seconds: number): Promise<ApiRun> {
  const result = await autocannon({
    url,
    connections: 64,
    duration: seconds,
    requests: [{ setupRequest: (request) => ({ ...request, ...endpoint.request() }) }]
  })
  return {
    rps: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failed: result.errors + result.timeouts + result.non2xx
  }
}
