import { AppError } from '../../platform/errors.ts'

/** Every Redis failure the adapters see is about reaching Redis, so it is retryable. */
export function translateRedisError(err: unknown, operation: string): AppError {
  if (err instanceof AppError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new AppError('UNAVAILABLE', `redis unavailable during ${operation}: ${message}`, { cause: err, retryable: true })
}
