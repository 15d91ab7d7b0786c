// The background upkeep every service that writes or serves readings runs: partitions premade ahead
// of now, and partitions past RETENTION_*_DAYS dropped (by one instance at a time: the others find
// the lock taken and skip their turn), once at start, then every MAINTENANCE_EVERY_MS; and the
// closing of the hour and day rollups, every CLOSE_EVERY_MS (one instance at a time: the closing
// lock; a stop aborts a closer waiting for it).
import { Counter, type Registry } from 'prom-client'
import type { Logger } from '../platform/logger.ts'
import { sleep } from '../platform/retry.ts'
import type { StorageMaintenance } from '../ports/store.ts'

export const MAINTENANCE_EVERY_MS = 15 * 60_000
export const CLOSE_EVERY_MS = 30_000

export class MaintenanceMetrics {
  readonly runs: Counter<'result'>
  readonly dropped: Counter<'table'>
  readonly droppedBytes: Counter<'table'>
  readonly hoursClosed: Counter
  readonly closeFailures: Counter

  constructor(registry: Registry) {
    const registers = [registry]
    this.runs = new Counter({
      name: 'sensorstream_retention_runs_total',
      help: 'retention runs, by result: done, skipped (another instance held the lock) or failed',
      labelNames: ['result'],
      registers
    })
    this.dropped = new Counter({
      name: 'sensorstream_retention_partitions_dropped_total',
      help: 'partitions dropped by retention, by table',
      labelNames: ['table'],
      registers
    })
    this.droppedBytes = new Counter({
      name: 'sensorstream_retention_bytes_dropped_total',
      help: 'bytes on disk of the partitions dropped, by table',
      labelNames: ['table'],
      registers
    })
    this.hoursClosed = new Counter({
      name: 'sensorstream_rollup_hours_closed_total',
      help: 'hours closed into rollup_1h (and their days into rollup_1d) by this process',
      registers
    })
    this.closeFailures = new Counter({
      name: 'sensorstream_rollup_close_failures_total',
      help: 'rollup closings that failed (retried at the next turn)',
      registers
    })
  }
}

/** One round: premake, then retention. Never throws (logged and counted). */
export async function maintainOnce(maintenance: StorageMaintenance, metrics: MaintenanceMetrics, logger: Logger): Promise<void> {
  try {
    await maintenance.premakePartitions()
    const dropped = await maintenance.dropExpiredPartitions()
    metrics.runs.inc({ result: dropped === undefined ? 'skipped' : 'done' })
    for (const p of dropped ?? []) {
      metrics.dropped.inc({ table: p.table })
      metrics.droppedBytes.inc({ table: p.table }, p.bytes)
    }
  } catch (err) {
    metrics.runs.inc({ result: 'failed' })
    logger.warn({ err }, 'storage maintenance failed; next round in due time')
  }
}

/** One turn of closing. Never throws (logged and counted); an abort ends it at once. */
export async function closeOnce(maintenance: StorageMaintenance, metrics: MaintenanceMetrics, logger: Logger, signal?: AbortSignal): Promise<void> {
  try {
    const hours = await maintenance.closeRollups(signal === undefined ? {} : { signal })
    if (hours > 0) {
      metrics.hoursClosed.inc(hours)
      logger.debug({ hours }, 'rollup hours closed')
    }
  } catch (err) {
    metrics.closeFailures.inc()
    logger.warn({ err }, 'closing rollups failed; next turn in due time')
  }
}

export interface RunningMaintenance {
  /** stops the rounds; resolves when the one in progress has ended */
  stop(): Promise<void>
}

/** Runs maintainOnce once `ready` resolves (migrations applied), then every `everyMs`, until stopped. */
export function startMaintenance(
  maintenance: StorageMaintenance,
  options: { registry: Registry; logger: Logger; ready: Promise<unknown>; everyMs?: number; closeEveryMs?: number }
): RunningMaintenance {
  const metrics = new MaintenanceMetrics(options.registry)
  const everyMs = options.everyMs ?? MAINTENANCE_EVERY_MS
  const closeEveryMs = options.closeEveryMs ?? CLOSE_EVERY_MS
  const stopping = new AbortController()
  const { signal } = stopping
  const loop = (async () => {
    await options.ready
    while (!signal.aborted) {
      await maintainOnce(maintenance, metrics, options.logger)
      await sleep(everyMs, signal)
    }
  })().catch((err: unknown) => options.logger.warn({ err }, 'storage maintenance not started'))
  const closing = (async () => {
    await options.ready
    while (!signal.aborted) {
      await closeOnce(maintenance, metrics, options.logger, signal)
      await sleep(closeEveryMs, signal)
    }
  })().catch((err: unknown) => options.logger.warn({ err }, 'rollup closing not started'))
  return {
    async stop() {
      stopping.abort()
      await Promise.all([loop, closing])
    }
  }
}
