// GET /status: the pipeline's state in one small JSON answer for the dashboard (and for people):
// readings per second, consumer lag, dead-lettered count, and each dependency's health. Postgres
// and Redis are asked by this process; the streaming instances' figures come from the status board
// (Redis) where each posts them every second (streaming/status-report.ts).
import type { FastifyInstance } from 'fastify'
import type { StreamingReport } from '../../../ports/pipeline-status.ts'
import type { RouteContext } from '../context.ts'
import { errors } from '../schemas.ts'

/** a streaming report older than this means the instance is gone */
export const REPORT_MAX_AGE_MS = 5000
/** POST /data's rate is measured over about this long */
const RATE_WINDOW_MS = 10_000

const health = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'down', 'unknown'] },
    latency_ms: { type: 'number' },
    message: { type: 'string' }
  }
} as const

const statusBody = {
  type: 'object',
  required: ['at', 'readings_per_second', 'consumer_lag', 'dead_lettered', 'live_clients', 'dependencies'],
  properties: {
    at: { type: 'number', description: 'unix seconds' },
    readings_per_second: {
      type: 'number',
      description: 'readings newly stored per second: by the streaming instances (last second) plus POST /data to this API (last 10 s)'
    },
    streaming_per_second: { type: 'number' },
    posted_per_second: { type: 'number' },
    consumer_lag: {
      type: ['integer', 'null'],
      description: 'records of the topic not yet committed by the consumer group (null: no streaming instance reports it)'
    },
    dead_lettered: { type: ['integer', 'null'], description: 'invalid records sent to the dead-letter topic since the streaming instances started' },
    stored: { type: ['integer', 'null'], description: 'readings stored by the streaming instances since they started' },
    streaming_instances: { type: 'integer' },
    live_clients: { type: 'integer', description: 'clients of GET /stream and GET /ws on this API instance' },
    dependencies: {
      type: 'object',
      required: ['postgres', 'redis', 'bus', 'streaming'],
      properties: { postgres: health, redis: health, bus: health, streaming: health }
    }
  }
} as const

type Health = { status: 'ok' | 'down' | 'unknown'; latency_ms?: number; message?: string }

async function probe(call: () => Promise<unknown>): Promise<Health> {
  const start = performance.now()
  try {
    await call()
    return { status: 'ok', latency_ms: Math.round((performance.now() - start) * 10) / 10 }
  } catch (err) {
    return { status: 'down', message: (err as Error).message }
  }
}

export function statusRoutes(ctx: RouteContext) {
  const { deps, metrics } = ctx
  const samples: { at: number; posted: number }[] = []
  const postedPerSecond = async (): Promise<number> => {
    const now = Date.now()
    const posted = (await metrics.readingsWritten.get()).values.find((v) => v.labels['result'] === 'inserted')?.value ?? 0
    while (samples.length > 1 && (samples[1] as { at: number }).at <= now - RATE_WINDOW_MS) samples.shift()
    const last = samples[samples.length - 1]
    if (last === undefined || now - last.at >= 1000) samples.push({ at: now, posted })
    const first = samples[0] as { at: number; posted: number }
    return now - first.at < 500 ? 0 : (posted - first.posted) / ((now - first.at) / 1000)
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/status',
      {
        schema: {
          summary: "The pipeline's state",
          description:
            'Readings per second, consumer lag, dead-lettered count and the health of Postgres, Redis, the bus and the streaming service, as JSON (what the dashboard shows).',
          tags: ['operations'],
          response: { 200: { description: 'the state, also when a dependency is down', ...statusBody }, ...errors(401, 403) }
        }
      },
      async () => {
        const board = deps.status
        let reports: StreamingReport[] | undefined
        const [postgres, redis, streaming] = await Promise.all([
          probe(() => deps.store.ping()),
          probe(() => deps.latest.ping()),
          board === undefined
            ? Promise.resolve<Health>({ status: 'unknown', message: 'this API has no status board' })
            : probe(async () => {
                reports = await board.recent(REPORT_MAX_AGE_MS)
              })
        ])
        const live = reports ?? []
        const fresh = live.length > 0
        const sum = (pick: (r: StreamingReport) => number): number => live.reduce((n, r) => n + pick(r), 0)
        const lags = live.map((r) => r.consumerLag).filter((n): n is number => n !== undefined && n >= 0)
        const busProblem = live.find((r) => r.bus !== 'ok')
        const streamingPerSecond = sum((r) => r.storedPerSecond)
        const posted = await postedPerSecond()
        const clients = (await metrics.liveClients.get()).values[0]?.value ?? 0
        return {
          at: Date.now() / 1000,
          readings_per_second: Math.round((streamingPerSecond + posted) * 10) / 10,
          streaming_per_second: Math.round(streamingPerSecond * 10) / 10,
          posted_per_second: Math.round(posted * 10) / 10,
          // One group: every instance sees the same lag; the largest is the latest answer at worst.
          consumer_lag: lags.length > 0 ? Math.max(...lags) : null,
          dead_lettered: fresh ? sum((r) => r.deadLetteredTotal) : null,
          stored: fresh ? sum((r) => r.storedTotal) : null,
          streaming_instances: live.length,
          live_clients: clients,
          dependencies: {
            postgres,
            redis,
            bus: !fresh
              ? { status: 'unknown', message: 'no streaming instance reports' }
              : busProblem === undefined
                ? { status: 'ok' }
                : { status: 'down', message: busProblem.bus },
            streaming:
              streaming.status !== 'ok'
                ? streaming
                : fresh
                  ? { status: 'ok', message: `${live.length} instance${live.length === 1 ? '' : 's'} reporting` }
                  : { status: 'down', message: `no report in the last ${REPORT_MAX_AGE_MS / 1000} s` }
          }
        }
      }
    )
  }
}
