// LatestValues on Redis. Layout (prefix from REDIS_KEY_PREFIX, default `sensorstream:`):
//   <prefix>latest   HASH  sensor_id → {"sensor_id","value","timestamp"} (JSON, the API's shape)
//   <prefix>sensors  SET   every sensor_id seen
//   <prefix>latest-state  STRING  `complete` once rebuilt from the store, `rebuilding:<token>` while
//                         being rebuilt; absent in a Redis that started or was emptied since (the
//                         key goes with the data, so a restart without persistence shows as absent)
// One Lua script applies a whole batch atomically and compares timestamps inside Redis, so an older
// reading never replaces a newer one, whatever the order of arrival or the number of writers.
import { randomUUID } from 'node:crypto'
import type { Redis, Result } from 'ioredis'
import { newestPerSensor, type Reading } from '../../domain/reading.ts'
import { encodeReading } from '../../domain/wire.ts'
import type { Logger } from '../../platform/logger.ts'
import type { LatestValues, RebuildToken } from '../../ports/latest.ts'
import { openRedis } from '../redis/redis-connection.ts'
import { translateRedisError } from '../redis/redis-errors.ts'

// KEYS[1] latest hash, KEYS[2] sensors set; ARGV[1]: one line per sensor (each sensor once),
// "sensor_id<TAB>timestamp<TAB>json<LF>". One argument instead of three per sensor: the client writes
// one string instead of thousands (most of the cost of a call on the Node side). Sensor ids cannot
// hold a tab or a line feed (SENSOR_ID_PATTERN) and JSON text holds neither unescaped.
// A handful of commands per call, whatever its size: one HMGET of the current values, the
// comparisons in Lua, one HSET of the newer ones and one SADD of the sensors not seen before (the
// script writes both keys, so a sensor in the hash is already in the set).
const UPDATE_SCRIPT = `
local ids, stamps, values = {}, {}, {}
for id, ts, json in string.gmatch(ARGV[1], '([^\\t\\n]+)\\t([^\\t\\n]+)\\t([^\\n]+)\\n') do
  ids[#ids + 1] = id
  stamps[#stamps + 1] = tonumber(ts)
  values[#values + 1] = json
end
if #ids == 0 then return 0 end
local current = redis.call('HMGET', KEYS[1], unpack(ids))
local updates, fresh = {}, {}
for n = 1, #ids do
  local cur = current[n]
  local newer = not cur
  if newer then
    fresh[#fresh + 1] = ids[n]
  else
    -- The stored JSON ends with its timestamp (encodeReading in domain/wire.ts); anything else is decoded in full.
    local ts = tonumber(string.match(cur, '"timestamp":([^,}]+)}$') or '') or cjson.decode(cur).timestamp
    newer = ts < stamps[n]
  end
  if newer then
    updates[#updates + 1] = ids[n]
    updates[#updates + 1] = values[n]
  end
end
if #updates > 0 then redis.call('HSET', KEYS[1], unpack(updates)) end
if #fresh > 0 then redis.call('SADD', KEYS[2], unpack(fresh)) end
return #updates / 2`

// KEYS[1] state; ARGV[1] a new rebuild token. A rebuild under way is joined (same token); a complete
// cache stays complete while it is rebuilt again.
const START_REBUILD_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`

// KEYS[1] state; ARGV[1] the token startRebuild gave. Absent or another rebuild's token: the cache
// was emptied meanwhile (and maybe a rebuild started since), so this rebuild does not count.
const FINISH_REBUILD_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] and cur ~= 'complete' then return 0 end
redis.call('SET', KEYS[1], 'complete')
return 1`

const COMPLETE = 'complete'

/** Readings per script call: keeps each call short so Redis never blocks for long. */
const CHUNK = 2_000

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sensorstreamUpdateLatest(latestKey: string, sensorsKey: string, lines: string): Result<number, Context>
    sensorstreamStartRebuild(stateKey: string, token: string): Result<string, Context>
    sensorstreamFinishRebuild(stateKey: string, token: string): Result<number, Context>
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
  private readonly stateKey: string

  constructor(options: RedisLatestOptions) {
    this.redis = openRedis(options.url, options.logger, 'latest', options.commandTimeoutMs)
    this.redis.defineCommand('sensorstreamUpdateLatest', { numberOfKeys: 2, lua: UPDATE_SCRIPT })
    this.redis.defineCommand('sensorstreamStartRebuild', { numberOfKeys: 1, lua: START_REBUILD_SCRIPT })
    this.redis.defineCommand('sensorstreamFinishRebuild', { numberOfKeys: 1, lua: FINISH_REBUILD_SCRIPT })
    this.latestKey = `${options.keyPrefix}latest`
    this.sensorsKey = `${options.keyPrefix}sensors`
    this.stateKey = `${options.keyPrefix}latest-state`
  }

  async connect(): Promise<void> {
    try {
      await this.redis.connect()
    } catch (err) {
      throw translateRedisError(err, 'connect', this.redis)
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  async update(readings: readonly Reading[]): Promise<void> {
    const newest = newestPerSensor(readings)
    try {
      for (let start = 0; start < newest.length; start += CHUNK) {
        let lines = ''
        for (let i = start; i < Math.min(start + CHUNK, newest.length); i++) {
          const r = newest[i] as Reading
          lines += `${r.sensor_id}\t${r.timestamp}\t${encodeReading(r)}\n`
        }
        await this.redis.sensorstreamUpdateLatest(this.latestKey, this.sensorsKey, lines)
      }
    } catch (err) {
      throw translateRedisError(err, 'update', this.redis)
    }
  }

  async get(sensorId: string): Promise<Reading | undefined> {
    try {
      const json = await this.redis.hget(this.latestKey, sensorId)
      return json === null ? undefined : (JSON.parse(json) as Reading)
    } catch (err) {
      throw translateRedisError(err, 'get', this.redis)
    }
  }

  async all(): Promise<Reading[]> {
    try {
      const values = await this.redis.hvals(this.latestKey)
      return values.map((json) => JSON.parse(json) as Reading)
    } catch (err) {
      throw translateRedisError(err, 'all', this.redis)
    }
  }

  async sensors(): Promise<string[]> {
    try {
      return await this.redis.smembers(this.sensorsKey)
    } catch (err) {
      throw translateRedisError(err, 'sensors', this.redis)
    }
  }

  async ping(): Promise<void> {
    try {
      await this.redis.ping()
    } catch (err) {
      throw translateRedisError(err, 'ping', this.redis)
    }
  }

  async isComplete(): Promise<boolean> {
    try {
      return (await this.redis.get(this.stateKey)) === COMPLETE
    } catch (err) {
      throw translateRedisError(err, 'isComplete')
    }
  }

  async startRebuild(): Promise<RebuildToken> {
    try {
      return await this.redis.sensorstreamStartRebuild(this.stateKey, `rebuilding:${randomUUID()}`)
    } catch (err) {
      throw translateRedisError(err, 'startRebuild')
    }
  }

  async finishRebuild(token: RebuildToken): Promise<boolean> {
    try {
      return (await this.redis.sensorstreamFinishRebuild(this.stateKey, token)) === 1
    } catch (err) {
      throw translateRedisError(err, 'finishRebuild')
    }
  }
}
