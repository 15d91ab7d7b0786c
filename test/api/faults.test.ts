// The API when Redis or Postgres goes away and comes back, on servers of this file's own (stopped
// and restarted here), through the real adapters.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ownPostgres, ownRedis, uniqueName, type PostgresServer, type RedisServer } from '../harness/index.ts'
import { openApi, waitFor, type ApiFixture } from './setup.ts'

const now = (): number => Math.floor(Date.now() / 1000)

interface Servers {
  pg: PostgresServer
  redis: RedisServer
  f: ApiFixture
}

/** Servers of the suite's own (so that it may stop them) and the API on them, opened before its tests. */
function ownServers(): Servers {
  const servers = {} as Servers
  before(async () => {
    ;[servers.pg, servers.redis] = await Promise.all([ownPostgres(), ownRedis()])
    servers.f = await openApi(await servers.pg.createDatabase(uniqueName('faults')), servers.redis.url, { requestTimeoutMs: 1000 })
  })
  after(() => servers.f.close())
  return servers
}

describe('Redis down', () => {
  const s = ownServers()

  test('reads fall back to Postgres (x-cache: bypassed), writes are stored, readiness names redis; all recover', async () => {
    const t = now() - 60
    assert.equal((await s.f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'r1', value: 1, timestamp: t } })).statusCode, 201)
    await s.redis.stop()

    const recent = await s.f.app.inject('/recent/r1')
    assert.equal(recent.statusCode, 200)
    assert.equal(recent.headers['x-cache'], 'bypassed')
    assert.deepEqual(recent.json(), { sensor_id: 'r1', value: 1, timestamp: t })

    const sensors = await s.f.app.inject('/sensors')
    assert.equal(sensors.statusCode, 200)
    assert.equal(sensors.headers['x-cache'], 'bypassed')
    assert.deepEqual(sensors.json(), [{ sensor_id: 'r1', value: 1, timestamp: t }])

    const write = await s.f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'r1', value: 2, timestamp: t + 1 } })
    assert.equal(write.statusCode, 201)
    assert.equal(write.headers['x-cache'], 'bypassed')
    assert.deepEqual(await s.f.queries.latest('r1'), { sensor_id: 'r1', value: 2, timestamp: t + 1 })
    assert.equal((await s.f.app.inject('/recent/r1')).json().value, 2)
    assert.equal((await s.f.app.inject('/data')).statusCode, 200)

    const ready = await s.f.app.inject('/readyz')
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.json().error, 'UNAVAILABLE')
    assert.equal(ready.json().details.postgres, 'ok')
    assert.notEqual(ready.json().details.redis, 'ok')
    assert.equal((await s.f.app.inject('/stream')).statusCode, 503)

    const metrics = await s.f.app.inject('/metrics')
    assert.match(metrics.body, /sensorstream_api_dependency_errors_total\{dependency="redis",operation="get",kind="unavailable"/)
    assert.match(metrics.body, /sensorstream_api_cache_bypassed_total\{route="\/recent\/:sensor_id"[^}]*\} [1-9]/)

    await s.redis.start() // empty: nothing was saved
    await waitFor('redis back', async () => ((await s.f.app.inject('/readyz')).statusCode === 200 ? true : undefined))
    const miss = await s.f.app.inject('/recent/r1')
    assert.equal(miss.headers['x-cache'], 'miss')
    assert.equal(miss.json().value, 2)
    assert.equal((await s.f.app.inject('/recent/r1')).headers['x-cache'], 'hit')
  })

  test('a Redis that hangs answers within the request timeout from Postgres', async () => {
    await waitFor('redis ready', async () => ((await s.f.app.inject('/readyz')).statusCode === 200 ? true : undefined))
    process.kill(s.redis.pid as number, 'SIGSTOP')
    try {
      const started = Date.now()
      const recent = await s.f.app.inject('/recent/r1')
      assert.equal(recent.statusCode, 200)
      assert.equal(recent.headers['x-cache'], 'bypassed')
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    } finally {
      process.kill(s.redis.pid as number, 'SIGCONT')
    }
  })
})

describe('Postgres down', () => {
  const s = ownServers()

  test('latest values still come from Redis; history and writes answer 503; all recover', async () => {
    const t = now() - 60
    assert.equal((await s.f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'p1', value: 5, timestamp: t } })).statusCode, 201)
    await s.pg.stop()

    const recent = await s.f.app.inject('/recent/p1')
    assert.equal(recent.statusCode, 200)
    assert.equal(recent.headers['x-cache'], 'hit')
    assert.deepEqual(recent.json(), { sensor_id: 'p1', value: 5, timestamp: t })
    assert.equal((await s.f.app.inject('/sensors')).statusCode, 200)

    for (const url of ['/data', '/sensors/p1/readings', '/sensors/p1/stats', '/recent/unknown-sensor']) {
      const res = await s.f.app.inject(url)
      assert.equal(res.statusCode, 503, url)
      assert.equal(res.json().error, 'UNAVAILABLE', url)
      assert.equal(res.headers['retry-after'], '1')
    }
    const write = await s.f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'p1', value: 6, timestamp: t + 1 } })
    assert.equal(write.statusCode, 503)
    assert.equal((await s.f.app.inject('/recent/p1')).json().value, 5, 'a failed write must not change the latest value')
    const ready = await s.f.app.inject('/readyz')
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.json().details.redis, 'ok')

    await s.pg.start()
    await waitFor('postgres back', async () => ((await s.f.app.inject('/data')).statusCode === 200 ? true : undefined))
    assert.equal((await s.f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'p1', value: 6, timestamp: t + 1 } })).statusCode, 201)
    assert.equal((await s.f.app.inject('/recent/p1')).json().value, 6)
    assert.equal((await s.f.app.inject('/readyz')).statusCode, 200)
  })
})
