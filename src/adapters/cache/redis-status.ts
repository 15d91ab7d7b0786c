// PipelineStatusBoard on Redis: HASH <prefix>status, instance → the report as JSON. The hash expires
// a minute after the last report, so it goes when every instance has; a stopped instance's field is
// left behind until then and is ignored by its age.
import type { Redis } from 'ioredis'
import type { Logger } from '../../platform/logger.ts'
import type { PipelineStatusBoard, StreamingReport } from '../../ports/pipeline-status.ts'
import { openRedis } from '../redis/redis-connection.ts'
import { translateRedisError } from '../redis/redis-errors.ts'

const EXPIRE_MS = 60_000

export interface RedisStatusOptions {
  readonly url: string
  readonly keyPrefix: string
  readonly logger: Logger
}

export class RedisStatusBoard implements PipelineStatusBoard {
  private readonly redis: Redis
  private readonly key: string

  constructor(options: RedisStatusOptions) {
    this.redis = openRedis(options.url, options.logger, 'status')
    this.key = `${options.keyPrefix}status`
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

  async report(report: StreamingReport): Promise<void> {
    try {
      await this.redis.multi().hset(this.key, report.instance, JSON.stringify(report)).pexpire(this.key, EXPIRE_MS).exec()
    } catch (err) {
      throw translateRedisError(err, 'report')
    }
  }

  async recent(maxAgeMs: number): Promise<StreamingReport[]> {
    let fields: Record<string, string>
    try {
      fields = await this.redis.hgetall(this.key)
    } catch (err) {
      throw translateRedisError(err, 'recent')
    }
    const since = Date.now() - maxAgeMs
    const reports: StreamingReport[] = []
    for (const json of Object.values(fields)) {
      try {
        const r = JSON.parse(json) as StreamingReport
        if (typeof r.at === 'number' && r.at >= since) reports.push(r)
      } catch {
        // not a report: ignored
      }
    }
    return reports
  }
}
