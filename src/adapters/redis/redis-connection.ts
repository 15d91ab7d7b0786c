// One way to open ioredis connections: fail fast while Redis is down (callers retry with backoff)
// instead of queueing commands without bound, and reconnect on their own when it returns.
import { Redis } from 'ioredis'
import type { Logger } from '../../platform/logger.ts'
import { backoffMs } from '../../platform/retry.ts'
import { noteRedisError } from './redis-errors.ts'

export function openRedis(url: string, logger: Logger, name: string, commandTimeoutMs = 5_000): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(commandTimeoutMs, 1_000),
    commandTimeout: commandTimeoutMs,
    connectionName: `sensorstream-${name}`,
    retryStrategy: (attempt) => backoffMs(attempt + 1, 50, 2_000)
  })
  let down = false
  redis.on('error', (err: Error) => {
    noteRedisError(redis, err)
    if (!down) logger.warn({ err }, `redis ${name} connection lost; reconnecting`)
    down = true
  })
  redis.on('ready', () => {
    noteRedisError(redis, undefined)
    if (down) logger.info(`redis ${name} connection back`)
    down = false
  })
  return redis
}
