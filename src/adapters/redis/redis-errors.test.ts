// A Redis that cannot be reached: the message names its address and the reason, once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogger } from '../../platform/logger.ts'
import { openRedis } from './redis-connection.ts'
import { translateRedisError } from './redis-errors.ts'

test('connect to a closed port names the address and ECONNREFUSED', async () => {
  const redis = openRedis('redis://127.0.0.1:1', createLogger('silent'), 'test', 1_000)
  try {
    const err = await redis.connect().then(
      () => assert.fail('connected to 127.0.0.1:1'),
      (e: unknown) => translateRedisError(e, 'connect', redis)
    )
    assert.equal(err.code, 'UNAVAILABLE')
    assert.equal(err.retryable, true)
    assert.match(err.message, /^redis unavailable at 127\.0\.0\.1:1 during connect: .*ECONNREFUSED 127\.0\.0\.1:1/)
    assert.equal(err.message.split('ECONNREFUSED').length - 1, 1, err.message)
  } finally {
    redis.disconnect()
  }
})

test('without the connection the message is as before', () => {
  assert.equal(translateRedisError(new Error('boom'), 'get').message, 'redis unavailable during get: boom')
})
