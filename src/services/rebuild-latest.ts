// The latest values rebuilt from the store, the system of record: every sensor's newest stored
// reading offered to the cache through its compare-by-timestamp update, so a rebuild never replaces
// a newer value that arrived meanwhile. Used by the streaming service after a cache outage and by
// any service whose cache starts empty.
import type { LatestValues } from '../ports/latest.ts'
import type { ReadingStore } from '../ports/store.ts'
import { AppError } from '../platform/errors.ts'

/** Sensors read from the store and offered to the cache per round trip. */
const PAGE = 2_000
/** A cache emptied again during each of this many rebuilds in a row is not there to rebuild. */
const ATTEMPTS = 3

/**
 * Offers every sensor's newest stored reading to `latest` and marks it complete; resolves to how
 * many sensors it offered. Rejects (retryable) if the cache was emptied during every attempt.
 */
export async function rebuildLatest(
  store: Pick<ReadingStore, 'latestOfAll'>,
  latest: Pick<LatestValues, 'update' | 'startRebuild' | 'finishRebuild'>,
  signal?: AbortSignal
): Promise<number> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const token = await latest.startRebuild()
    let sensors = 0
    for (let after: string | undefined; signal?.aborted !== true;) {
      const page = await store.latestOfAll(after, PAGE)
      if (page.length === 0) break
      await latest.update(page)
      sensors += page.length
      after = page.at(-1)?.sensor_id
    }
    if (signal?.aborted === true) throw new AppError('UNAVAILABLE', 'latest values rebuild stopped', { retryable: true })
    if (await latest.finishRebuild(token)) return sensors
  }
  throw new AppError('UNAVAILABLE', `the cache was emptied during ${ATTEMPTS} rebuilds in a row`, { retryable: true })
}

/** Offers the newest stored reading of each of `sensorIds` to `latest`; resolves to how many had one. */
export async function repairLatest(store: Pick<ReadingStore, 'latestOf'>, latest: Pick<LatestValues, 'update'>, sensorIds: Iterable<string>): Promise<number> {
  let repaired = 0
  let chunk: string[] = []
  const flush = async (): Promise<void> => {
    const newest = await store.latestOf(chunk)
    await latest.update(newest)
    repaired += newest.length
    chunk = []
  }
  for (const id of sensorIds) {
    chunk.push(id)
    if (chunk.length >= PAGE) await flush()
  }
  if (chunk.length > 0) await flush()
  return repaired
}
