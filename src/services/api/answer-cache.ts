// Stats and series answers kept to serve again, exact at every moment: an answer is stored with the
// answer version (ReadingQueries.answerVersion) read before the answer itself, and served again only
// while a fresh read of the version gives the same value, i.e. while no commit that could change
// the answer has happened since it was read. A request then costs Postgres one small statement over
// a few rows of answer_epochs instead of the answer's hundreds of rows.
import type { FastifyReply } from 'fastify'
import { LRUCache } from 'lru-cache'
import type { ApiMetrics } from '../../platform/metrics.ts'
import type { ReadingQueries, Tier } from '../../ports/queries.ts'

interface StoredAnswer {
  readonly version: string
  readonly tier: Tier
  /** the body as serialized for the route */
  readonly body: Buffer
}

/** What a route computes when the cache cannot answer. */
export interface Answer {
  readonly tier: Tier
  readonly payload: object
  /** false for an answer without buckets (whose sensor existence was checked): not worth a place */
  readonly keep: boolean
}

export const CACHE_STATUS_HEADER = {
  'cache-status': {
    type: 'string',
    description:
      'RFC 9211: `sensorstream; hit` (an answer kept from an earlier request, served while no write has changed it), `sensorstream; fwd=miss; stored` ' +
      'or `fwd=stale; stored` (read now and kept), `sensorstream; fwd=bypass` (not kept: a range without both `from` and `to`, or retention dropping part of it). ' +
      'Absent when API_STATS_CACHE_MB is 0.'
  }
} as const

const JSON_TYPE = 'application/json; charset=utf-8'

export type AnswerCache = (
  reply: FastifyReply,
  request: { url: string; keepable: boolean; from: number; to: number },
  compute: () => Promise<Answer>
) => Promise<unknown>

/** A cache of at most `maxBytes` of bodies, least recently used first out; with 0, every answer is computed. */
export function answerCache(maxBytes: number, queries: ReadingQueries, metrics: ApiMetrics): AnswerCache {
  if (maxBytes === 0) {
    return async (reply, _request, compute) => {
      const answer = await compute()
      reply.header('x-tier', answer.tier)
      return answer.payload
    }
  }
  const kept = new LRUCache<string, StoredAnswer>({ maxSize: maxBytes, sizeCalculation: (a, url) => a.body.length + url.length + 64 })
  return async (reply, request, compute) => {
    // a request's answer is a function of its URL (route, sensor, range, bucket or points) and of the stored data
    const version = request.keepable ? await queries.answerVersion(request.from, request.to) : undefined
    const held = version === undefined ? undefined : kept.get(request.url)
    if (held !== undefined && held.version === version) {
      metrics.answerCache.inc({ result: 'hit' })
      return reply.header('x-tier', held.tier).header('cache-status', 'sensorstream; hit').type(JSON_TYPE).send(held.body)
    }
    const answer = await compute()
    reply.header('x-tier', answer.tier)
    if (version === undefined || !answer.keep) {
      if (held !== undefined && version !== undefined) kept.delete(request.url)
      metrics.answerCache.inc({ result: 'bypass' })
      reply.header('cache-status', 'sensorstream; fwd=bypass')
      return answer.payload
    }
    const body = Buffer.from(reply.serialize(answer.payload) as string)
    kept.set(request.url, { version, tier: answer.tier, body })
    metrics.answerCache.inc({ result: held === undefined ? 'miss' : 'stale' })
    metrics.answerCacheBytes.set(kept.calculatedSize)
    return reply
      .header('cache-status', `sensorstream; fwd=${held === undefined ? 'miss' : 'stale'}; stored`)
      .type(JSON_TYPE)
      .send(body)
  }
}
