import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { Redis } from 'ioredis'
import { redisAnswers, startRedis, type RedisServer } from './redis.ts'

const servers: RedisServer[] = []
after(async () => {
  for (const server of servers) await server.dispose()
})

async function ping(url: string): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 })
  await client.connect()
  try {
    return await client.ping()
  } finally {
    client.disconnect()
  }
}

test('a Redis server starts, answers, stops, is killed and starts again', async () => {
  const redis = await startRedis()
  servers.push(redis)
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`)
  assert.equal(await ping(redis.url), 'PONG')

  await redis.stop()
  assert.equal(redis.pid, undefined)
  assert.equal(await redisAnswers(redis.port), false)
  await redis.start()
  assert.equal(await ping(redis.url), 'PONG')

  await redis.kill()
  assert.equal(redis.pid, undefined)
  await redis.start()
  assert.equal(await ping(redis.url), 'PONG')
  await redis.dispose()
})
