// `sensorstream streaming`: the data path (data-path.ts) in a worker thread with a small young
// generation. The data path allocates a lot per reading, nearly all short-lived; V8's default lets
// the young generation grow large, which made the process bigger and slower (a young generation
// that fits the CPU's caches is scavenged faster). A batch outlives a few scavenges, so its records
// reach the old generation and die there: with V8's own heap growing factor the old generation
// held about twice what is live. docs/performance.md ("Streaming memory settings") has the
// measurements behind both settings.
import v8 from 'node:v8'
import { requireServices } from '../../platform/config.ts'
import { runServiceInWorker, siblingModule } from '../in-worker.ts'
import type { ServiceMain } from '../service.ts'

/** V8 gives the young generation 3 semi-spaces' worth: 12 MB is a 4 MB semi-space. */
export const YOUNG_GENERATION_MB = 12

/**
 * The old generation may grow to twice what survived the last full collection before the next one:
 * the setting that held the RSS target at full batch size without the CPU cost of a tighter one
 * (docs/performance.md).
 */
export const HEAP_GROWING_PERCENT = 100

export const main: ServiceMain = async (context) => {
  requireServices(context.config, 'streaming', ['kafka', 'database', 'redis'])
  // A V8 flag is process-wide, but read when a heap sizes itself: set before the worker starts.
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
  await runServiceInWorker(siblingModule(import.meta.url, 'data-path'), context, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB })
}
