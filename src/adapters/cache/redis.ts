// LatestValues on Redis. Layout (prefix from REDIS_KEY_PREFIX, default `sensorstream:`):
//   <prefix>latest   HASH  sensor_id → {"sensor_id","value","timestamp"} (JSON, the API's shape)
//   <prefix>sensors  SET   every sensor_id seen
// One Lua script applies a whole batch atomically and compares timestamps inside Redis, so an older
// reading never replaces a newer one, whatever the order of arrival or the number of writers.
import type { Redis, Result } from 'ioredis'
import { newestPerSensor, type Reading } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'
import type { LatestValues } from '../../ports/latest.ts'
import { openRedis } from './redis-connection.ts'
import { translateRedisError } from './redis-errors.ts'

// KEYS[1] latest hash, KEYS[2] sensors set; ARGV: sensor_id, timestamp, json, sensor_id, … (each
// sensor once). A handful of commands per call, whatever its size: one HMGET of the current values,
// the comparisons in Lua, one HSET of the newer ones and one SADD.
const UPDATE_SCRIPT = `
local ids, updates = {}, {}
for i = 1, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
local current = redis.call('HMGET', KEYS[1], unpack(ids))
for n = 1, #ids do
  local i = n * 3 - 2
  local cur = current[n]
  if not cur or cjson.decode(cur).timestamp < tonumber(ARGV[i + 1]) then
    updates[#updates + 1] = ARGV[i]
    updates[#updates + 1] = ARGV[i + 2]
  end
end
if #updates > 0 then redis.call('HSET', KEYS[1], unpack(updates)) end
redis.call('SADD', KEYS[2], unpack(ids))
return #updates / 2`

/** Readings per script call: keeps each call short so Redis never blocks for long. */
const CHUNK = 2_000

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sensorstreamUpdateLatest(latestKey: string, sensorsKey: string, ...args: (string | number)[]): Result<number, Context>
  }
}

export interface RedisLatestOptions {
  readonly url: string
  readonly keyPrefix: string
  readonly logger: Logger
  /** a command that takes longer fails (retryable) [5000] */
  readonly commandTimeoutMs?: number
}

export class RedisLatestValues implements LatestValues {
  private readonly redis: Redis
  private readonly latestKey: string
  private readonly sensorsKey: string

  constructor(options: RedisLatestOptions) {
    this.redis = openRedis(options.url, options.logger, 'latest', options.commandTimeoutMs)
    this.redis.defineCommand('sensorstreamUpdateLatest', { numberOfKeys: 2, lua: UPDATE_SCRIPT })
    this.latestKey = `${options.keyPrefix}latest`
    this.sensorsKey = `${options.keyPrefix}sensors`
  }

  async connect(): Promise<void> {
    try {
      await this.redis.connect()
    } catch (err) {
      throw translateRedisError(err, 'connect')
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  async update(readings: readonly Reading[]): Promise<void> {
    const newest = newestPerSensor(readings)
    try {
      for (let start = 0; start < newest.length; start += CHUNK) {
        const args: (string | number)[] = []
        for (const r of newest.slice(start, start + CHUNK)) args.push(r.sensor_id, r.timestamp, toJson(r))
        await this.redis.sensorstreamUpdateLatest(this.latestKey, this.sensorsKey, ...args)
      }
    } catch (err) {
      throw translateRedisError(err, 'update')
    }
  }

  async get(sensorId: string): Promise<Reading | undefined> {
    try {
      const json = await this.redis.hget(this.latestKey, sensorId)
      return json === null ? undefined : (JSON.parse(json) as Reading)
    } catch (err) {
      throw translateRedisError(err, 'get')
    }
  }

  async all(): Promise<Reading[]> {
    try {
      const values = await this.redis.hvals(this.latestKey)
      return values.map((json) => JSON.parse(json) as Reading)
    } catch (err) {
      throw translateRedisError(err, 'all')
    }
  }

  async sensors(): Promise<string[]> {
    try {
      return await this.redis.smembers(this.sensorsKey)
    } catch (err) {
      throw translateRedisError(err, 'sensors')
    }
  }

  async ping(): Promise<void> {
    try {
      await this.redis.ping()
    } catch (err) {
      throw translateRedisError(err, 'ping')
    }
  }
}

function toJson(r: Reading): string {
  return JSON.stringify({ sensor_id: r.sensor_id, value: r.value, timestamp: r.timestamp })
}
