// `sensorstream streaming`: the data path (data-path.ts) in a worker thread with a small young
// generation. At ~100,000 readings/s the data path allocates ~4 KB per reading, nearly all
// short-lived; V8's default lets the young generation grow to 128 MB, which made the process
// ~400 MB and slower (a young generation that fits the CPU's caches is scavenged faster).
// A batch outlives a few scavenges, so its records reach the old generation and die there: with
// V8's own heap growing factor (up to 4×) the old generation held ~2× the ~50 MB that is live.
// docs/performance.md has the measurements.
import v8 from 'node:v8'
import { requireServices } from '../../platform/config.ts'
import { runServiceInWorker, siblingModule } from '../in-worker.ts'
import type { ServiceMain } from '../service.ts'

/** V8 gives the young generation 3 semi-spaces' worth: 12 MB is a 4 MB semi-space. */
export const YOUNG_GENERATION_MB = 12

/**
 * The old generation may grow to 2× what survived the last full collection before the next one.
 * Measured with 20,000-reading batches and 1 MiB fetches, 3 runs: 214–218 MB RSS at 67,000–68,000
 * readings/s, where V8's own factor took 20,000-reading batches to ~280 MB even with 256 KiB
 * fetches. 30 % held less (146–171 MB) but cost up to 1.6× the CPU at 5,000-reading batches.
 */
export const HEAP_GROWING_PERCENT = 100

export const main: ServiceMain = async (context) => {
  requireServices(context.config, 'streaming', ['kafka', 'database', 'redis'])
  // A V8 flag is process-wide, but read when a heap sizes itself: set before the worker starts.
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  await runServiceInWorker(siblingModule(import.meta.url, 'data-path'), context, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB })
}
