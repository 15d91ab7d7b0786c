// What the API is built from: ports only (src/wiring.ts builds the adapters). Every call the API makes to
// Postgres or Redis goes through `guard`, which gives it a deadline and counts its failures.
import type { Registry } from 'prom-client'
import type { Config } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { ApiMetrics } from '../../platform/metrics.ts'
import type { AlertFeed, AlertStore, RuleStore } from '../../ports/alerts.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { PipelineStatusBoard } from '../../ports/pipeline-status.ts'
import type { ReadingQueries } from '../../ports/queries.ts'
import type { ReadingStore } from '../../ports/store.ts'

export interface ApiDeps {
  /** Postgres: writes (POST /data) */
  readonly store: ReadingStore
  /** Postgres: history, pages, statistics, a sensor's latest stored reading */
  readonly queries: ReadingQueries
  /** Redis: latest value per sensor */
  readonly latest: LatestValues
  /** Redis pub/sub: readings as they are stored */
  readonly live: LiveFeed
  /** Redis: the streaming instances' figures for GET /status (absent: none shown) */
  readonly status?: PipelineStatusBoard
  /** what GET /status says of the bus, e.g. `kafka` or `in-process` */
  readonly busName?: string
  /** Postgres: alert rules (absent: no /rules routes) */
  readonly rules?: RuleStore
  /** Postgres: alert states and events (absent: no /alerts routes) */
  readonly alerts?: AlertStore
  /** Redis pub/sub: alert events as they happen, for the live stream */
  readonly alertFeed?: AlertFeed
  /** where the API registers its metrics; GET /metrics serves all of it */
  readonly registry: Registry
  readonly config: Config['api']
  readonly logger: Logger
}

export type Dependency = 'postgres' | 'redis'

/** The ports as routes use them: every call has a deadline and failures are counted. */
export interface GuardedDeps {
  readonly store: ReadingStore
  readonly queries: ReadingQueries
  readonly latest: LatestValues
  readonly live: LiveFeed
  readonly status: PipelineStatusBoard | undefined
  readonly rules: RuleStore | undefined
  readonly alerts: AlertStore | undefined
  readonly alertFeed: AlertFeed | undefined
}

/**
 * How long a write may take before the API answers without knowing its outcome. The API's pool
 * waits at most API_REQUEST_TIMEOUT_MS for a connection and its statement timeout is at most as
 * long (the `api` pool of src/wiring.ts), so Postgres's own answer (stored, or rolled back) normally comes first: a write
 * is not answered early while its statement may still commit.
 */
export function writeTimeoutMs(requestTimeoutMs: number): number {
  return 2 * requestTimeoutMs + 1000
}

const WRITES = new Set(['write', 'writeReturningNew'])

export function guardDeps(deps: ApiDeps, metrics: ApiMetrics): GuardedDeps {
  const ms = deps.config.requestTimeoutMs
  return {
    store: guard(deps.store, 'postgres', ms, metrics, { operations: WRITES, timeoutMs: writeTimeoutMs(ms) }),
    queries: guard(deps.queries, 'postgres', ms, metrics),
    latest: guard(deps.latest, 'redis', ms, metrics),
    live: guard(deps.live, 'redis', ms, metrics),
    status: deps.status === undefined ? undefined : guard(deps.status, 'redis', ms, metrics),
    rules: deps.rules === undefined ? undefined : guard(deps.rules, 'postgres', ms, metrics),
    alerts: deps.alerts === undefined ? undefined : guard(deps.alerts, 'postgres', ms, metrics),
    alertFeed: deps.alertFeed === undefined ? undefined : guard(deps.alertFeed, 'redis', ms, metrics)
  }
}

/** Operations of a port that get a deadline of their own. */
export interface LongerDeadline {
  readonly operations: ReadonlySet<string>
  readonly timeoutMs: number
}

/** Wraps every async method of a port: it rejects with a TIMEOUT AppError after `timeoutMs`. */
export function guard<T extends object>(port: T, dependency: Dependency, timeoutMs: number, metrics: ApiMetrics, longer?: LongerDeadline): T {
  return new Proxy(port, {
    get(target, property) {
      const member: unknown = Reflect.get(target, property, target)
      if (typeof member !== 'function' || property === 'connect' || property === 'close') return member
      const operation = String(property)
      const ms = longer?.operations.has(operation) === true ? longer.timeoutMs : timeoutMs
      return (...args: unknown[]) =>
        deadline(dependency, operation, ms, () => (member as (...a: unknown[]) => Promise<unknown>).apply(target, args)).catch((err: unknown) => {
          const kind = err instanceof AppError ? (err.code === 'TIMEOUT' ? 'timeout' : err.code === 'UNAVAILABLE' ? 'unavailable' : 'error') : 'error'
          metrics.dependencyErrors.inc({ dependency, operation, kind })
          throw err
        })
    }
  })
}

export function deadline<T>(dependency: Dependency, operation: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new AppError('TIMEOUT', `${dependency} did not answer ${operation} within ${timeoutMs} ms`, { retryable: true }))
    }, timeoutMs)
    let pending: Promise<T>
    try {
      pending = call()
    } catch (err) {
      pending = Promise.reject(err as Error)
    }
    pending.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err as Error)
      }
    )
  })
}
