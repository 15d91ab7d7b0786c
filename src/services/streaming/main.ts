// `sensorstream streaming`: the data path (data-path.ts) in a worker thread with a small young
// generation. At ~100,000 readings/s the data path allocates ~4 KB per reading, nearly all
// short-lived; V8's default lets the young generation grow to 128 MB, which made the process
// ~400 MB and slower (a young generation that fits the CPU's caches is scavenged faster).
// docs/performance.md has the measurements.
import { requireServices } from '../../platform/config.ts'
import { runServiceInWorker, siblingModule } from '../in-worker.ts'
import type { ServiceMain } from '../service.ts'

/** V8 gives the young generation 3 semi-spaces' worth: 12 MB is a 4 MB semi-space. */
export const YOUNG_GENERATION_MB = 12

export const main: ServiceMain = async (context) => {
  requireServices(context.config, 'streaming', ['kafka', 'database', 'redis'])
  await runServiceInWorker(siblingModule(import.meta.url, 'data-path'), context, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB })
}
