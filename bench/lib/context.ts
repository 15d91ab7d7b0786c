// What every benchmark item gets: the services, the sizes of this run, unique names and progress output.
import { createDatabase } from '../../src/adapters/store/postgres-server.ts'
import type { Offsets } from './kafka.ts'
import type { Services } from './services.ts'

export interface Sizes {
  /** readings per topic (item 1, 3, 7) */
  readonly readings: number
  readonly sensors: number
  /** readings the naive design consumes per run */
  readonly naiveReadings: number
  /** rows already in the table for the growth item */
  readonly growthRows: number
  /** days (daily partitions) they are spread over */
  readonly growthDays: number
  readonly runs: number
  readonly apiSeconds: number
  /** measuring window per delay run */
  readonly delaySeconds: number
  readonly delayRate: number
  /** the live item: SSE and WebSocket clients on one API, readings/s, seconds */
  readonly live: { readonly sse: number; readonly ws: number; readonly rate: number; readonly seconds: number }
  /** the mqtt item: readings per run (one per message) from this many MQTT publishers */
  readonly mqtt: { readonly readings: number; readonly publishers: number }
  /** the year item: days of one sensor at a reading every 10 s */
  readonly statsYearDays: number
  /** the retention item: rows of the day dropped per run, and readings of the topic ingested meanwhile (enough for warm-up, windows and CLI) */
  readonly retention: { readonly rows: number; readonly readings: number }
}

export const FULL: Sizes = {
  readings: 1_000_000,
  sensors: 10_000,
  naiveReadings: 100_000,
  growthRows: 100_000_000,
  growthDays: 30,
  runs: 3,
  apiSeconds: 10,
  delaySeconds: 15,
  delayRate: 2_000,
  live: { sse: 1000, ws: 100, rate: 1000, seconds: 15 },
  mqtt: { readings: 100_000, publishers: 100 },
  retention: { rows: 8_000_000, readings: 6_000_000 },
  statsYearDays: 365
}

export const QUICK: Sizes = {
  readings: 100_000,
  sensors: 10_000,
  naiveReadings: 5_000,
  growthRows: 1_000_000,
  growthDays: 30,
  runs: 3,
  apiSeconds: 3,
  delaySeconds: 4,
  delayRate: 2_000,
  live: { sse: 200, ws: 20, rate: 500, seconds: 5 },
  mqtt: { readings: 20_000, publishers: 100 },
  retention: { rows: 1_000_000, readings: 5_000_000 },
  statsYearDays: 30
}

export interface Bench {
  readonly services: Services
  readonly offsets: Offsets
  readonly sizes: Sizes
  readonly quick: boolean
  /** wall-clock start of the benchmark (unix ms) */
  readonly startedAt: number
  progress(message: string): void
  /** a fresh, empty database on the benchmark's Postgres; its URL */
  database(label: string): Promise<string>
  /** a unique name (topics, groups, key prefixes) */
  name(label: string): string
  /** environment for the CLI: the three services and unique names derived from `label` */
  env(extra: Record<string, string>): Record<string, string>
}

export function createBench(services: Services, offsets: Offsets, sizes: Sizes, quick: boolean): Bench {
  const started = Date.now()
  let counter = 0
  const name = (label: string): string => `bench-${label}-${process.pid}-${++counter}`
  return {
    services,
    offsets,
    sizes,
    quick,
    startedAt: started,
    progress: (message) => {
      const s = ((Date.now() - started) / 1000).toFixed(0).padStart(4)
      process.stdout.write(`[${s} s] ${message}\n`)
    },
    database: (label) => createDatabase(services.postgres.url, name(label).replaceAll('-', '_')),
    name,
    env: (extra) => ({
      KAFKA_BROKERS: services.kafka.brokers,
      REDIS_URL: services.redis.url,
      KAFKA_PARTITIONS: '6',
      ...extra
    })
  }
}
