// A service for in-worker.test.ts: fails at once with an AppError.
import { AppError } from '../../platform/errors.ts'
import type { ServiceMain } from '../service.ts'

export const main: ServiceMain = async ({ config }) => {
  throw new AppError('UNAVAILABLE', `postgres unavailable (log level ${config.logLevel})`, { retryable: true })
}
