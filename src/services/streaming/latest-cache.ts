// The latest values as the streaming service keeps them: Postgres is the record and the cache is
// rebuilt from it, so a cache outage never holds a batch back. A failed update is not retried in
// the batch: the batch's sensors are remembered (after Postgres has them), and a repairer in the
// background, once the cache answers again, offers their newest stored readings through the cache's
// compare-by-timestamp update, so a repair never replaces a newer value. A cache found incomplete
// (new, or restarted empty) is rebuilt whole, and so is it once at startup: a stop during an outage
// forgets what was remembered.
import type { Reading } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'
import { backoffMs, sleep } from '../../platform/retry.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { rebuildLatest, repairLatest } from '../rebuild-latest.ts'
import type { StreamingMetrics } from './metrics.ts'

export interface LatestCacheDeps {
  readonly store: Pick<ReadingStore, 'latestOf' | 'latestOfAll'>
  readonly latest: LatestValues
  readonly metrics: StreamingMetrics
  readonly logger: Logger
}

export interface LatestCacheOptions {
  /** sensors remembered for repair; beyond, the whole cache is rebuilt instead [100 000] */
  readonly maxPendingSensors?: number
  /** how often an idle repairer asks whether the cache is still complete [1000] */
  readonly probeIntervalMs?: number
}

export class LatestCache {
  readonly #deps: LatestCacheDeps
  readonly #maxPending: number
  readonly #probeMs: number
  /** the previous update: updates are applied in batch order (an equal timestamp keeps the first value) */
  #tail: Promise<unknown> = Promise.resolve()
  /** the cache failed and has not answered since: updates are not even tried */
  #failing = false
  #pending = new Set<string>()
  #all = true
  /** when the cache stopped being known right (for the log line when it is again) */
  #degradedSince: number | undefined
  #loggedOutage = false
  #wake: (() => void) | undefined

  constructor(deps: LatestCacheDeps, options: LatestCacheOptions = {}) {
    this.#deps = deps
    this.#maxPending = options.maxPendingSensors ?? 100_000
    this.#probeMs = options.probeIntervalMs ?? 1_000
    this.#degrade() // until the startup rebuild is done
  }

  /**
   * Offers a batch's readings to the cache. Resolves once they are in it, or, if the cache failed,
   * once `stored` (the batch's Postgres writes) has settled and they are remembered for repair.
   * Never rejects.
   */
  offer(readings: readonly Reading[], stored: Promise<unknown>): Promise<void> {
    const attempt = this.#tail.then(() => this.#update(readings))
    this.#tail = attempt
    return attempt.then(async (cached) => {
      if (cached) return
      // Remembered only once Postgres has them, so the repair that takes them reads them there.
      await stored.then(noop, noop)
      this.#remember(readings)
    })
  }

  /** Repairs in the background until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger } = this.#deps
    let failures = 0
    while (!signal.aborted) {
      if (!this.#needsRepair()) {
        await this.#idle(signal)
        continue
      }
      try {
        await this.#repair(signal)
        failures = 0
      } catch (err) {
        if (signal.aborted) break
        failures++
        if (failures === 1 || failures % 20 === 0) logger.debug({ err, failures }, 'latest values repair failed; retrying')
        await sleep(backoffMs(failures + 1, 100, 5_000), signal)
      }
    }
  }

  async #update(readings: readonly Reading[]): Promise<boolean> {
    if (this.#failing) return false
    try {
      await this.#deps.latest.update(readings)
      return true
    } catch (err) {
      this.#fail(err)
      return false
    }
  }

  /** Logged once per outage (until the cache is repaired), not per batch. */
  #fail(err: unknown): void {
    this.#failing = true
    if (!this.#loggedOutage) {
      this.#loggedOutage = true
      this.#deps.logger.warn({ err }, 'latest values cache unavailable: readings go on to Postgres, and the cache will be repaired from it')
    }
    this.#degrade()
  }

  #remember(readings: readonly Reading[]): void {
    this.#rememberSensors(readings.map((r) => r.sensor_id))
  }

  #rememberSensors(sensorIds: Iterable<string>): void {
    if (!this.#all) {
      for (const id of sensorIds) this.#pending.add(id)
      if (this.#pending.size > this.#maxPending) this.#rebuildAll()
    }
    this.#degrade()
  }

  #rebuildAll(): void {
    this.#all = true
    this.#pending = new Set()
    this.#degrade()
  }

  #needsRepair(): boolean {
    return this.#failing || this.#all || this.#pending.size > 0
  }

  #degrade(): void {
    this.#degradedSince ??= Date.now()
    this.#deps.metrics.cacheDegraded.set(1)
    this.#wake?.()
  }

  /** Waits for a failure, or asks the cache every probe interval whether it is still complete. */
  async #idle(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, this.#probeMs)
      this.#wake = done
      signal.addEventListener('abort', done, { once: true })
    })
    if (signal.aborted || this.#needsRepair()) return
    try {
      if (!(await this.#deps.latest.isComplete())) {
        this.#deps.logger.warn('latest values cache found incomplete (restarted empty?): rebuilding it from Postgres')
        this.#rebuildAll()
      }
    } catch (err) {
      this.#fail(err)
    }
  }

  async #repair(signal: AbortSignal): Promise<void> {
    const { store, latest, metrics, logger } = this.#deps
    await latest.ping()
    // It answers: batches update it again; what they missed meanwhile is remembered and repaired.
    this.#failing = false
    if (!this.#all && !(await latest.isComplete())) this.#rebuildAll()
    const all = this.#all
    const sensors = this.#pending
    this.#all = false
    this.#pending = new Set()
    let repaired: number
    try {
      repaired = all ? await rebuildLatest(store, latest, signal) : await repairLatest(store, latest, sensors)
    } catch (err) {
      if (all) this.#rebuildAll()
      else this.#rememberSensors(sensors)
      throw err
    }
    metrics.cacheRepairs.inc({ scope: all ? 'all' : 'sensors' })
    if (this.#needsRepair()) return
    const since = this.#degradedSince
    this.#degradedSince = undefined
    this.#loggedOutage = false
    metrics.cacheDegraded.set(0)
    const seconds = since === undefined ? 0 : Math.round((Date.now() - since) / 100) / 10
    logger.info({ scope: all ? 'all' : 'sensors', sensors: repaired, seconds }, 'latest values cache repaired from Postgres')
  }
}

function noop(): void {}
