// GET /ws with a real WebSocket client (ws): subscribe / unsubscribe by ids and globs, the resume
// rule (readings posted while away arrive once each), protocol errors, and the slow-client rule.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/platform/config.ts'
import { freshDatabase, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from '../api/setup.ts'
import { openWs, poster, postReadings, until, type WsClient } from './clients.ts'

const stream = { ...loadConfig({}).api.stream, clientBufferBytes: 16 * 1024 }

const post = postReadings

interface ReadingsMessage {
  type: 'readings'
  id: string
  readings: { sensor_id: string; value: number; timestamp: number }[]
}
const readingsOf = (c: WsClient) =>
  c.messages.filter((m): m is ReadingsMessage & Record<string, unknown> => m['type'] === 'readings').flatMap((m) => m.readings)
const typed = (c: WsClient, type: string) => c.messages.filter((m) => m['type'] === type)

describe('GET /ws', () => {
  let f: ApiFixture
  let base: string
  let ws: string
  before(async () => {
    const [url, redis] = await Promise.all([freshDatabase('ws'), useRedis()])
    f = await openApi(url, redis.url, { stream })
    base = (await f.listen()).url
    ws = base.replace('http', 'ws')
  })
  after(() => f.close())

  test('a plain GET without the upgrade answers the JSON error shape (found by the fuzzer: a bare 404)', async () => {
    const res = await fetch(`${base}/ws`)
    assert.equal(res.status, 400)
    const body = (await res.json()) as { error: string; message: string }
    assert.equal(body.error, 'BAD_REQUEST')
    assert.match(body.message, /WebSocket/)
  })

  test('subscribe to ids and globs, unsubscribe, and errors for bad messages', async () => {
    const c = await openWs(`${ws}/ws`)
    try {
      c.send({ type: 'subscribe', sensor_id: ['ws-line.*', 'ws-pump'] })
      await until('subscribed', () => typed(c, 'subscribed').length === 1)
      const t = Date.now() / 1000
      await post(
        base,
        ['ws-line.a', 'ws-line', 'ws-pump', 'ws-pump-2'].map((sensor_id, i) => ({ sensor_id, value: i, timestamp: t }))
      )
      await until('2 readings', () => readingsOf(c).length >= 2)
      c.send({ type: 'unsubscribe', sensor_id: ['ws-line.*'] })
      await until('unsubscribed', () => typed(c, 'unsubscribed').length === 1)
      await post(base, [
        { sensor_id: 'ws-line.a', value: 9, timestamp: t + 1 },
        { sensor_id: 'ws-pump', value: 9, timestamp: t + 1 }
      ])
      await until('3 readings', () => readingsOf(c).length >= 3)
      await new Promise((r) => setTimeout(r, 200))
      assert.deepEqual(
        readingsOf(c)
          .map((r) => `${r.sensor_id}=${r.value}`)
          .sort(),
        ['ws-line.a=0', 'ws-pump=2', 'ws-pump=9']
      )
      const ids = c.messages.filter((m) => m['type'] === 'readings').map((m) => m['id'])
      for (const id of ids) assert.match(String(id), /^\d+-/)

      c.socket.send('not json')
      c.send({ type: 'subscribe', sensor_id: ['a b'] })
      c.send({ type: 'dance' })
      c.send({ type: 'subscribe', sensor_id: ['x'], last_event_id: 'nope' })
      await until('4 errors', () => typed(c, 'error').length >= 4)
      assert.deepEqual(
        typed(c, 'error').map((m) => m['error']),
        ['INVALID_JSON', 'VALIDATION_FAILED', 'VALIDATION_FAILED', 'VALIDATION_FAILED']
      )
    } finally {
      c.close()
    }
  })

  test('subscribe with last_event_id resumes: readings posted while away arrive once each, none missing', async () => {
    const first = await openWs(`${ws}/ws?sensor_id=wsr-*`)
    const p = poster(base, 'wsr', 4)
    const posted = p.posted
    const postSome = (count: number) => p.post(count)
    await until('subscribed', () => typed(first, 'subscribed').length === 1)
    await postSome(10)
    await until('the first 10', () => readingsOf(first).length >= 10)
    first.close()
    await first.closed
    const lastId = String(first.messages.filter((m) => m['type'] === 'readings').at(-1)?.['id'])
    for (let i = 0; i < 4; i++) await postSome(250)
    const stopWriting = p.keepPosting()
    const second = await openWs(`${ws}/ws`)
    second.send({ type: 'subscribe', sensor_id: ['wsr-*'], last_event_id: lastId })
    // the 1,000 posted while away come first, then live posts: wait for a few of those
    await until('live posts after the resumed ones', () => readingsOf(second).length >= 1000 + 3 * 7)
    await stopWriting()
    await until('every reading', () => readingsOf(first).length + readingsOf(second).length >= posted.length)
    await new Promise((r) => setTimeout(r, 300))
    second.close()
    const all = [...readingsOf(first), ...readingsOf(second)].map((r) => `${r.sensor_id}@${r.timestamp}`)
    assert.equal(new Set(all).size, all.length, 'no reading repeated')
    assert.deepEqual([...all].sort(), [...posted].sort(), 'no reading missing')
    assert.ok(Number(typed(second, 'subscribed')[0]?.['replayed']) >= 1000)
  })

  test('a client that stops reading is cut off once STREAM_CLIENT_BUFFER_BYTES are queued', async () => {
    const c = await openWs(`${ws}/ws?sensor_id=slow-*`)
    try {
      await until('subscribed', () => typed(c, 'subscribed').length === 1)
      // Stop reading: the kernel buffers fill, then the server's queue (bufferedAmount) grows.
      ;(c.socket as unknown as { _socket: { pause(): void } })._socket.pause()
      const t0 = Math.floor(Date.now() / 1000) - 200
      const before = await fetch(`${base}/metrics`).then((r) => r.text())
      const dropped = (text: string): number => Number(/sensorstream_api_live_clients_dropped_total(?:\{[^}]*\})? (\d+)/.exec(text)?.[1] ?? 0)
      for (let b = 0; b < 20 && dropped(await fetch(`${base}/metrics`).then((r) => r.text())) === dropped(before); b++) {
        await post(
          base,
          Array.from({ length: 10_000 }, (_, i) => ({ sensor_id: `slow-${i % 50}`, value: i, timestamp: t0 + b + i / 10_000 }))
        )
      }
      assert.equal(dropped(await fetch(`${base}/metrics`).then((r) => r.text())), dropped(before) + 1)
    } finally {
      c.socket.terminate()
    }
  })
})
