// GET /stream on real Postgres and Redis: event ids, filters by ids and globs, heartbeats, and the
// resume rule: what was posted while a client was away comes back once, none missing or repeated.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/platform/config.ts'
import { freshDatabase, uniqueName, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from '../api/setup.ts'
import { openSse, poster, postReadings, until, type ReceivedEvent } from './clients.ts'

const stream = { ...loadConfig({}).api.stream, heartbeatMs: 500 }

const post = postReadings

const sensorsOf = (events: readonly ReceivedEvent[]): string[] => events.map((e) => (JSON.parse(e.data) as { sensor_id: string }).sensor_id)
const keysOf = (events: readonly ReceivedEvent[]): string[] =>
  events.map((e) => {
    const r = JSON.parse(e.data) as { sensor_id: string; timestamp: number }
    return `${r.sensor_id}@${r.timestamp}`
  })

describe('GET /stream', () => {
  let f: ApiFixture
  let base: string
  before(async () => {
    const [url, redis] = await Promise.all([freshDatabase('sse'), useRedis()])
    f = await openApi(url, redis.url, { stream })
    base = (await f.listen()).url
  })
  after(() => f.close())

  test('each event has an id; several ids and globs filter; heartbeats are `: ping`', async () => {
    const client = await openSse(`${base}/stream?sensor_id=line-4.*,pump-?,valve-1`)
    try {
      const t = Date.now() / 1000
      await post(
        base,
        ['line-4.a', 'line-4.temp.1', 'line-40', 'pump-1', 'pump-12', 'valve-1', 'valve-10'].map((sensor_id, i) => ({ sensor_id, value: i, timestamp: t }))
      )
      await until('4 events', () => client.events.length >= 4)
      await until('a heartbeat', () => client.comments.includes('ping'))
      await new Promise((r) => setTimeout(r, 200))
      assert.deepEqual(sensorsOf(client.events).sort(), ['line-4.a', 'line-4.temp.1', 'pump-1', 'valve-1'])
      for (const e of client.events) {
        assert.equal(e.event, 'reading')
        assert.match(e.id ?? '', /^\d+-[A-Za-z0-9._:-]*$/)
      }
    } finally {
      client.close()
    }
  })

  test('a bad filter or event id is a 400 naming it', async () => {
    const bad = await fetch(`${base}/stream?sensor_id=a%20b`)
    assert.equal(bad.status, 400)
    const badId = await fetch(`${base}/stream`, { headers: { 'last-event-id': 'yesterday' } })
    assert.equal(badId.status, 400)
    assert.match(await badId.text(), /last-event-id/)
  })

  test('Last-Event-ID resumes: readings posted while away arrive once each, none missing, also while posts go on', async () => {
    const first = await openSse(`${base}/stream?sensor_id=res-*`)
    const p = poster(base, 'res', 3)
    const posted = p.posted
    const postSome = (count: number) => p.post(count)
    await postSome(10)
    await until('the first 10', () => first.events.length >= 10)
    first.close()
    const lastId = first.events[first.events.length - 1]?.id as string
    // While away: 500 readings; then reconnect while another writer keeps posting.
    for (let i = 0; i < 5; i++) await postSome(100)
    const stopWriting = p.keepPosting()
    const second = await openSse(`${base}/stream?sensor_id=res-*`, { 'last-event-id': lastId })
    // the 500 posted while away come first, then live posts: wait for a few of those
    await until('live posts after the resumed ones', () => second.events.length >= 500 + 3 * 7)
    await stopWriting()
    await until('every reading posted', () => second.events.length >= posted.length - 10)
    await new Promise((r) => setTimeout(r, 300))
    second.close()
    const all = [...keysOf(first.events), ...keysOf(second.events)]
    assert.equal(new Set(all).size, all.length, 'no reading repeated')
    assert.deepEqual([...all].sort(), [...posted].sort(), 'no reading missing')
  })

  test('?since= replays from a time, within STREAM_RESUME_SECONDS', async () => {
    const t = Math.floor(Date.now() / 1000)
    await post(base, [
      { sensor_id: 'since-1', value: 1, timestamp: t - 1000 },
      { sensor_id: 'since-1', value: 2, timestamp: t - 100 },
      { sensor_id: 'since-1', value: 3, timestamp: t - 50 }
    ])
    const client = await openSse(`${base}/stream?sensor_id=since-1&since=${t - 2000}`)
    try {
      await until('2 replayed', () => client.events.length >= 2)
      await new Promise((r) => setTimeout(r, 200))
      // t - 1000 is older than the 300 s window.
      assert.deepEqual(
        client.events.map((e) => (JSON.parse(e.data) as { value: number }).value),
        [2, 3]
      )
      assert.equal(client.events[1]?.id, `${(t - 50) * 1000}-since-1`)
    } finally {
      client.close()
    }
  })
})

describe('two API instances, no balancer', () => {
  test('a client of each receives every reading posted to either (the feed goes through Redis)', async () => {
    const [url, redis] = await Promise.all([freshDatabase('sse2'), useRedis()])
    const prefix = `${uniqueName('pair')}:`
    const [one, two] = await Promise.all([openApi(url, redis.url, {}, { keyPrefix: prefix }), openApi(url, redis.url, {}, { keyPrefix: prefix })])
    try {
      const [a, b] = await Promise.all([one.listen(), two.listen()])
      const [ca, cb] = await Promise.all([openSse(`${a.url}/stream?sensor_id=pair-*`), openSse(`${b.url}/stream?sensor_id=pair-*`)])
      const t = Math.floor(Date.now() / 1000)
      // The other instance's publisher may have last seen nobody listening: it asks again within 250 ms.
      await new Promise((r) => setTimeout(r, 300))
      await postReadings(
        a.url,
        Array.from({ length: 50 }, (_, i) => ({ sensor_id: `pair-${i % 5}`, value: i, timestamp: t - i }))
      )
      await postReadings(
        b.url,
        Array.from({ length: 50 }, (_, i) => ({ sensor_id: `pair-${i % 5}`, value: i, timestamp: t - 100 - i }))
      )
      await until('100 readings on each', () => ca.events.length >= 100 && cb.events.length >= 100)
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(new Set(keysOf(ca.events)).size, 100)
      assert.deepEqual([...keysOf(ca.events)].sort(), [...keysOf(cb.events)].sort())
      ca.close()
      cb.close()
    } finally {
      await Promise.all([one.close(), two.close()])
    }
  })
})
