// GET /status: the figures the dashboard shows, from this API's own probes and counters and from
// the streaming instances' reports on the status board (Redis).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freshDatabase, useRedis, waitFor } from '../harness/index.ts'
import { openApi, type ApiFixture } from '../api/setup.ts'
import { postReadings } from './clients.ts'

describe('GET /status', () => {
  let f: ApiFixture
  before(async () => {
    const [url, redis] = await Promise.all([freshDatabase('status'), useRedis()])
    f = await openApi(url, redis.url)
  })
  after(() => f.close())

  test('without a streaming report: dependencies probed, streaming down, figures null', async () => {
    const res = await f.app.inject('/status')
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.dependencies.postgres.status, 'ok')
    assert.equal(body.dependencies.redis.status, 'ok')
    assert.equal(body.dependencies.streaming.status, 'down')
    assert.equal(body.dependencies.bus.status, 'unknown')
    assert.equal(body.consumer_lag, null)
    assert.equal(body.dead_lettered, null)
  })

  test('the streaming reports are summed; POST /data counts in readings per second', async () => {
    const now = Date.now()
    await f.status.report({ instance: 'a', at: now, storedPerSecond: 100, storedTotal: 1000, deadLetteredTotal: 2, consumerLag: 7, bus: 'ok' })
    await f.status.report({ instance: 'b', at: now, storedPerSecond: 50, storedTotal: 500, deadLetteredTotal: 1, consumerLag: 9, bus: 'ok' })
    await f.status.report({ instance: 'gone', at: now - 60_000, storedPerSecond: 999, storedTotal: 9, deadLetteredTotal: 9, bus: 'ok' })
    const api = await f.listen()
    await fetch(`${api.url}/status`)
    const t = Math.floor(now / 1000)
    await postReadings(
      api.url,
      Array.from({ length: 100 }, (_, i) => ({ sensor_id: 'st-1', value: i, timestamp: t - i }))
    )
    type Status = Record<string, unknown> & { dependencies: Record<string, { status: string }> }
    // the posts are counted once the API's per-second window has turned over
    const body = await waitFor(
      'the posts counted in /status',
      async () => {
        const status = (await (await fetch(`${api.url}/status`)).json()) as Status
        return Number(status['posted_per_second']) > 0 ? status : undefined
      },
      10_000
    )
    assert.equal(body['streaming_per_second'], 150)
    assert.ok(Number(body['posted_per_second']) > 0, `posted_per_second ${body['posted_per_second']}`)
    assert.equal(body['consumer_lag'], 9)
    assert.equal(body['dead_lettered'], 3)
    assert.equal(body['streaming_instances'], 2)
    assert.equal(body.dependencies['streaming']?.status, 'ok')
    assert.equal(body.dependencies['bus']?.status, 'ok')
  })
})
