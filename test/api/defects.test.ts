// Defects a fuzzer found at the HTTP edge (issue 11): out-of-range query values that reached
// Postgres, HEAD /stream, deadlocks and dishonest answers of concurrent writes, framework errors
// outside the documented codes, slow and wrongly encoded bodies.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { freshDatabase, useRedis, waitFor } from '../harness/index.ts'
import { STATUS } from '../../src/services/api/http-errors.ts'
import { openApi, type ApiFixture } from './setup.ts'
import { rawRequest, rawResponses, type RawResponse } from './raw-http.ts'

async function freshApi(api: Parameters<typeof openApi>[2] = {}, store: Parameters<typeof openApi>[3] = {}): Promise<ApiFixture> {
  const [url, redis] = await Promise.all([freshDatabase('defects'), useRedis()])
  return openApi(url, redis.url, api, store)
}

const now = (): number => Math.floor(Date.now() / 1000)
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url')

/** The error codes the README's API section documents. */
const README_CODES = new Set(
  [...(/## API\n([\s\S]*?)\n## /.exec(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'))?.[1] ?? '').matchAll(/`([A-Z][A-Z_]+)`/g)].map(
    (m) => m[1]
  )
)

/** A JSON error body {error, message} whose code is documented and mapped to this status. */
function assertErrorShape(status: number, body: string, what: string): { error: string; message: string } {
  let parsed: { error: string; message: string }
  try {
    parsed = JSON.parse(body)
  } catch {
    assert.fail(`${what}: body is not JSON: ${JSON.stringify(body.slice(0, 200))}`)
  }
  assert.equal(typeof parsed.error, 'string', what)
  assert.equal(typeof parsed.message, 'string', what)
  assert.ok(README_CODES.has(parsed.error), `${what}: ${parsed.error} is not a code of the README`)
  assert.equal((STATUS as Record<string, number>)[parsed.error], status, `${what}: ${parsed.error} is not mapped to ${status}`)
  return parsed
}

describe('out-of-range query values answer 400, never 500', () => {
  let f: ApiFixture
  const t0 = now() - 600
  before(async () => {
    f = await freshApi()
    await f.store.write([
      { sensor_id: 's1', value: 1, timestamp: t0 },
      { sensor_id: 's1', value: 2, timestamp: t0 + 1 }
    ])
  })
  after(() => f.close())

  const cursors = [
    'v1.9999999999999999999.9999999999999999999',
    'v1.-9223372036854775808.1',
    'v1.9223372036854775807.9223372036854775807',
    'v1.0.1',
    'v1.1000000.0'
  ]

  for (const method of ['GET', 'HEAD'] as const) {
    test(`${method}: cursors with numbers out of range name cursor`, async () => {
      for (const text of cursors) {
        for (const url of [`/data?cursor=${b64(text)}`, `/sensors/s1/readings?cursor=${b64(text)}`]) {
          const res = await f.app.inject({ method, url })
          assert.equal(res.statusCode, 400, `${method} ${url} (${text}): ${res.body}`)
          if (method === 'GET')
            assert.deepEqual(res.json().details, [{ path: '/cursor', in: 'query', message: 'is not a cursor from a Link header of this API' }])
        }
      }
    })
  }

  test('a cursor from a Link header still works at the edges of the range', async () => {
    const first = await f.app.inject('/data?limit=1')
    const next = /^<([^>]+)>/.exec(first.headers.link as string)?.[1] as string
    const second = await f.app.inject(next)
    assert.equal(second.statusCode, 200)
    assert.deepEqual(second.json(), [{ sensor_id: 's1', value: 1, timestamp: t0 }])
  })

  test('limit=Infinity, -Infinity, 1e400 and NaN are refused by name', async () => {
    for (const limit of ['Infinity', '-Infinity', '1e400', '-1e400', 'NaN', '1.5', '0']) {
      for (const url of [`/data?limit=${encodeURIComponent(limit)}`, `/sensors/s1/readings?limit=${encodeURIComponent(limit)}`]) {
        const res = await f.app.inject(url)
        assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
        assert.deepEqual(
          res.json().details.map((d: { path: string }) => d.path),
          ['/limit'],
          url
        )
      }
    }
    assert.equal((await f.app.inject('/data?limit=1000')).statusCode, 200)
  })

  test('from, to and bucket at their extremes answer 200 or 400, never 5xx', async () => {
    const urls = [
      '/data?from=999999999999.999999',
      '/data?to=999999999999',
      '/data?from=0&to=999999999999',
      '/data?from=0000-01-01T00:00:00Z',
      '/data?to=9999-12-31T23:59:59.999999999Z',
      '/data?from=2024-02-30T00:00:00Z',
      '/data?from=1e400',
      '/data?from=Infinity',
      '/sensors/s1/readings?from=999999999999&to=999999999999.5',
      '/sensors/s1/stats?from=0&to=999999999999&bucket=999999d',
      `/sensors/s1/stats?from=${t0 - 1}&to=999999999999&bucket=999999d`,
      '/sensors/s1/stats?from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&bucket=999999d',
      '/sensors/s1/stats?bucket=999999d',
      '/sensors/s1/stats?bucket=Infinityd',
      '/sensors/s1/stats?bucket=1e400s'
    ]
    for (const url of urls) {
      const res = await f.app.inject(url)
      assert.ok(res.statusCode === 200 || res.statusCode === 400 || res.statusCode === 404, `${url}: ${res.statusCode} ${res.body}`)
      if (res.statusCode !== 200) assertErrorShape(res.statusCode, res.body, url)
    }
    const stats = await f.app.inject(`/sensors/s1/stats?from=${t0 - 1}&to=999999999999&bucket=999999d`)
    assert.equal(stats.statusCode, 200, stats.body)
    assert.equal(
      stats.json().buckets.reduce((n: number, b: { count: number }) => n + b.count, 0),
      2
    )
  })
})

describe('HEAD /stream', () => {
  test('answers at once with the headers of GET and subscribes to nothing', async () => {
    const f = await freshApi()
    const api = await f.listen()
    let subscriptions = 0
    const subscribe = f.live.subscribe.bind(f.live)
    f.live.subscribe = (...args: Parameters<typeof subscribe>) => {
      subscriptions++
      return subscribe(...args)
    }
    try {
      const res = await fetch(`${api.url}/stream?sensor_id=a,b`, { method: 'HEAD', signal: AbortSignal.timeout(3000) })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') as string, /^text\/event-stream/)
      assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform')
      assert.equal(subscriptions, 0)
      const bad = await fetch(`${api.url}/stream?sensor_id=a%20b`, { method: 'HEAD', signal: AbortSignal.timeout(3000) })
      assert.equal(bad.status, 400)
      const metrics = await fetch(`${api.url}/metrics`).then((r) => r.text())
      assert.match(metrics, /^sensorstream_api_live_clients(\{[^}]*\})? 0$/m)
    } finally {
      await f.close()
    }
  })
})

/** 2,000 readings over 50 sensors, new keys on each call. */
let batchNo = 0
function batch(size = 2000): { sensor_id: string; value: number; timestamp: number }[] {
  const t = now() - 50_000 + batchNo++ * 100
  return Array.from({ length: size }, (_, i) => ({ sensor_id: `w${i % 50}`, value: i, timestamp: t + Math.floor(i / 50) + 0.001 * batchNo }))
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

const MAY_HAVE_BEEN_STORED = /may have been stored/

describe('concurrent POST /data of the same readings', () => {
  let f: ApiFixture
  before(async () => {
    // as `sensorstream api` opens its pool (main.ts): DATABASE_POOL_MAX 8, statement timeout = request timeout
    f = await freshApi({}, { poolMax: 8, statementTimeoutMs: 2000 })
  })
  after(() => f.close())

  const post = (payload: unknown) => f.app.inject({ method: 'POST', url: '/data', payload: payload as object })

  test('two clients in opposite orders never deadlock', async () => {
    for (let round = 0; round < 5; round++) {
      const readings = batch()
      const answers = await Promise.all([post(readings), post([...readings].reverse())])
      for (const a of answers) assert.equal(a.statusCode, 201, a.body)
      assert.equal(
        answers.reduce((n, a) => n + (a.json().inserted as number), 0),
        2000,
        `round ${round}`
      )
    }
  })

  test('20 clients in shuffled orders: 201 with inserted summing to 2,000, or an honest 503; 2,000 rows', async () => {
    const readings = batch()
    // over real connections, bodies already serialized, so that the 20 writes overlap in Postgres
    const { url } = await f.listen()
    const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify(shuffled(readings, i + 1)))
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const res = await fetch(`${url}/data`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        const text = await res.text()
        return { statusCode: res.status, body: text, headers: { 'retry-after': res.headers.get('retry-after') ?? undefined }, json: () => JSON.parse(text) }
      })
    )
    let inserted = 0
    const newKeys = new Set<string>()
    let unsure = 0
    for (const a of answers) {
      if (a.statusCode === 503) {
        assert.match(a.json().message, MAY_HAVE_BEEN_STORED, a.body)
        assert.ok(a.headers['retry-after'] !== undefined)
        unsure++
        continue
      }
      assert.equal(a.statusCode, 201, a.body)
      const body = a.json() as { inserted: number; duplicates: number; readings: { sensor_id: string; timestamp: number; duplicate: boolean }[] }
      assert.equal(body.inserted + body.duplicates, 2000)
      assert.equal(body.readings.filter((r) => !r.duplicate).length, body.inserted)
      for (const r of body.readings) {
        if (r.duplicate) continue
        const key = `${r.sensor_id}@${r.timestamp}`
        assert.ok(!newKeys.has(key), `${key} reported new twice`)
        newKeys.add(key)
      }
      inserted += body.inserted
    }
    if (unsure === 0) assert.equal(inserted, 2000)
    else assert.ok(inserted <= 2000)
    const { rows } = await f.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM sensor_data WHERE ts >= to_timestamp($1) AND ts <= to_timestamp($2)',
      [Math.min(...readings.map((r) => r.timestamp)), Math.max(...readings.map((r) => r.timestamp))]
    )
    assert.equal(rows[0]?.n, 2000)
    console.log(`20 clients × 2,000 readings: ${answers.length - unsure} × 201, ${unsure} × 503, inserted ${inserted}`)
  })
})

describe('a write whose outcome is not known in time', () => {
  test('answers 503 saying it may have been stored, with Retry-After; the retry reports duplicates', async () => {
    const f = await freshApi({ requestTimeoutMs: 300 })
    const blocker = await f.db.pool.connect()
    try {
      const t = now() - 30
      const readings = [
        { sensor_id: 'slow', value: 1, timestamp: t },
        { sensor_id: 'slow', value: 2, timestamp: t + 1 }
      ]
      // Another transaction holds the key of the first reading: the API's INSERT waits for it.
      await blocker.query('BEGIN')
      await blocker.query("INSERT INTO sensor_data (sensor_id, value, ts) VALUES ('slow', 1, to_timestamp($1))", [t])
      const pending = f.app.inject({ method: 'POST', url: '/data', payload: readings })
      const res = await pending
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.json().error, 'TIMEOUT')
      assert.match(res.json().message, MAY_HAVE_BEEN_STORED)
      assert.match(res.json().message, /retry/i)
      assert.equal(res.headers['retry-after'], '1')
      await blocker.query('COMMIT')
      // The statement commits after the answer: that is why the answer had to say so.
      const stored = async () => (await f.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM sensor_data WHERE sensor_id = 'slow'")).rows[0]?.n
      await waitFor('the timed-out statement to commit', async () => (await stored()) === 2, 5_000)
      const retry = await f.app.inject({ method: 'POST', url: '/data', payload: readings })
      assert.equal(retry.statusCode, 201)
      assert.deepEqual([retry.json().inserted, retry.json().duplicates], [0, 2])
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined)
      blocker.release()
      await f.close()
    }
  })
})

describe('a request that arrives while the server shuts down', () => {
  test('gets 503 UNAVAILABLE in the JSON error shape, with Retry-After and Connection: close', async () => {
    const f = await freshApi({ requestTimeoutMs: 5000 })
    const api = await f.listen()
    const blocker = await f.db.pool.connect()
    try {
      const t = now() - 30
      await blocker.query('BEGIN')
      await blocker.query("INSERT INTO sensor_data (sensor_id, value, ts) VALUES ('closing', 1, to_timestamp($1))", [t])
      // the first request waits on the lock; the second, sent behind it once closing began, is read while closing
      const body = JSON.stringify({ sensor_id: 'closing', value: 1, timestamp: t })
      const exchange = rawResponses(
        api.url,
        [
          `POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
        ],
        { gapMs: 600 }
      )
      await waitFor(
        'the first request waiting on the lock',
        async () => {
          const waiting = await f.db.pool.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
          )
          return (waiting.rows[0]?.n ?? 0) > 0
        },
        5_000,
        20
      )
      const closed = api.close()
      await new Promise((r) => setTimeout(r, 600))
      await blocker.query('COMMIT')
      const [first, second] = await exchange
      await closed
      assert.equal(first?.status, 201, first?.body)
      assert.equal(second?.status, 503, second?.body)
      assert.equal(assertErrorShape(503, second?.body ?? '', 'closing').error, 'UNAVAILABLE')
      assert.equal(second?.headers['retry-after'], '1')
      assert.equal(second?.headers['connection'], 'close')
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined)
      blocker.release()
      await f.close()
    }
  })
})

describe('framework errors have the JSON error shape and a documented code', () => {
  let f: ApiFixture
  let base: string
  before(async () => {
    f = await freshApi({ bodyTimeoutMs: 1500 })
    base = (await f.listen()).url
  })
  after(() => f.close())

  const get = (path: string, extra = ''): Promise<RawResponse> => rawRequest(base, [`GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`])

  test('bad percent-encoding: 400', async () => {
    for (const path of ['/recent/%C0%AF', '/sensors/%E0%A4%A/readings', '/recent/%']) {
      const res = await get(path)
      assert.equal(res.status, 400, `${path}: ${res.body}`)
      assertErrorShape(400, res.body, path)
    }
  })

  test('a path parameter over the router limit: 414 URI_TOO_LONG', async () => {
    const res = await get(`/recent/${'x'.repeat(300)}`)
    assert.equal(res.status, 414, res.body)
    assert.equal(assertErrorShape(414, res.body, 'long param').error, 'URI_TOO_LONG')
  })

  test('headers over the limit: 431 HEADERS_TOO_LARGE', async () => {
    const res = await get('/data', `X-Big: ${'y'.repeat(20_000)}\r\n`)
    assert.equal(res.status, 431, res.body)
    assert.equal(assertErrorShape(431, res.body, 'big header').error, 'HEADERS_TOO_LARGE')
  })

  test('a HEAD the parser refuses gets its status without a body (found by the fuzzer: a body read as a second answer)', async () => {
    const res = await rawRequest(base, [`HEAD /data HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\nConnection: close\r\n\r\n`])
    assert.equal(res.status, 431)
    assert.equal(res.body, '', 'no body after the headers of an answer to HEAD')
  })

  test('CONNECT: 405 METHOD_NOT_ALLOWED, not a dropped connection', async () => {
    for (const target of ['x:443', '/data']) {
      const res = await rawRequest(base, [`CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`])
      assert.equal(res.status, 405, `${target}: ${res.body}`)
      assert.equal(assertErrorShape(405, res.body, target).error, 'METHOD_NOT_ALLOWED')
    }
  })

  test('HTTP parse errors: 400 BAD_REQUEST', async () => {
    for (const request of [
      'HELLO\r\n\r\n',
      'GET /data HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET /data HTTP/9.9\r\n\r\n',
      'GET /data HTTP/1.1\r\nBad Header\r\n\r\n'
    ]) {
      const res = await rawRequest(base, [request])
      assert.equal(res.status, 400, `${JSON.stringify(request)}: ${res.body}`)
      assert.equal(assertErrorShape(400, res.body, request).error, 'BAD_REQUEST')
    }
  })

  test('a body trickled slower than API_BODY_TIMEOUT_MS: 408 REQUEST_TIMEOUT, connection closed', async () => {
    const body = JSON.stringify({ sensor_id: 'slow', value: 1 })
    const head = `POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`
    const res = await rawRequest(base, [head, ...body.split('')], { gapMs: 300, timeoutMs: 15_000 })
    assert.equal(res.status, 408, res.body)
    assert.equal(assertErrorShape(408, res.body, 'slow body').error, 'REQUEST_TIMEOUT')
    assert.ok(res.elapsedMs < 5000, `answered after ${res.elapsedMs} ms`)
  })

  test('headers trickled slower than the timeout: 408, connection closed', async () => {
    const head = 'GET /data HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n'.split('')
    const res = await rawRequest(base, head, { gapMs: 200, timeoutMs: 15_000 })
    assert.equal(res.status, 408, res.body)
    assertErrorShape(408, res.body, 'slow headers')
    assert.ok(res.elapsedMs < 5000, `answered after ${res.elapsedMs} ms`)
  })
})

describe('request body charset', () => {
  let f: ApiFixture
  before(async () => {
    f = await freshApi()
  })
  after(() => f.close())

  const post = (contentType: string, payload: string | Buffer) =>
    f.app.inject({ method: 'POST', url: '/data', payload, headers: { 'content-type': contentType } })

  test('only UTF-8 (or no charset) is accepted; any other charset is 415', async () => {
    const body = JSON.stringify({ sensor_id: 'cs', value: 1, timestamp: now() - 5 })
    for (const type of [
      'application/json; charset=utf-16',
      'application/json; charset=UTF-16LE',
      'application/json;charset=latin1',
      'application/json; charset="iso-8859-1"'
    ]) {
      const res = await post(type, body)
      assert.equal(res.statusCode, 415, `${type}: ${res.body}`)
      assert.equal(res.json().error, 'UNSUPPORTED_MEDIA_TYPE')
    }
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"']) {
      const res = await post(type, body)
      assert.equal(res.statusCode, 201, `${type}: ${res.body}`)
    }
    // a request without a body has nothing to misread
    assert.equal((await f.app.inject({ url: '/data', headers: { 'content-type': 'application/json; charset=latin1' } })).statusCode, 200)
  })
})
