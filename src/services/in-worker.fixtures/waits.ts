// A service for in-worker.test.ts: runs until stopped, then checks that it ran with the limits given.
import { resourceLimits } from 'node:worker_threads'
import { aborted } from '../../platform/shutdown.ts'
import type { ServiceMain } from '../service.ts'

export const main: ServiceMain = async ({ logger, signal }) => {
  logger.info('waiting')
  await aborted(signal)
  if (resourceLimits.maxYoungGenerationSizeMb !== 12) throw new Error(`young generation limit is ${resourceLimits.maxYoungGenerationSizeMb}, not 12`)
}
