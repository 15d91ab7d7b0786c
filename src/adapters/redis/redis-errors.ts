import type { Redis } from 'ioredis'
import { AppError, messageOf } from '../../platform/errors.ts'

// ioredis rejects a failed connect with "Connection is closed.": the reason (ECONNREFUSED …) came
// earlier as an 'error' event, kept here per connection.
const lastErrors = new WeakMap<Redis, Error>()

/** Called by openRedis on each 'error' event of `redis` (and with undefined once it is ready). */
export function noteRedisError(redis: Redis, err: Error | undefined): void {
  if (err === undefined) lastErrors.delete(redis)
  else lastErrors.set(redis, err)
}

/** Every Redis failure the adapters see is about reaching Redis, so it is retryable. */
export function translateRedisError(err: unknown, operation: string, redis?: Redis): AppError {
  if (err instanceof AppError) return err
  const message = messageOf(err)
  const last = redis === undefined ? undefined : lastErrors.get(redis)?.message
  const reason = last === undefined || last === message ? message : `${message.replace(/\.$/, '')} (${last})`
  const where = redis === undefined ? '' : ` at ${address(redis)}`
  return new AppError('UNAVAILABLE', `redis unavailable${where} during ${operation}: ${reason}`, { cause: err, retryable: true })
}

function address(redis: Redis): string {
  const { host, port, path } = redis.options
  if (path !== undefined && path !== null && path !== '') return path
  return `${host?.includes(':') === true ? `[${host}]` : host}:${port}`
}
