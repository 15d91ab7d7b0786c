// The API on real Postgres and Redis: each endpoint's happy path, the seed README's curl examples,
// every error status, idempotent retries, stable paging, the live stream and the OpenAPI document.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { Validator } from '@seriousme/openapi-schema-validator'
import { freshDatabase, useRedis } from '../harness/index.ts'
import { openApi, waitFor, type ApiFixture } from './setup.ts'

const run = promisify(execFile)

async function freshApi(api: Parameters<typeof openApi>[2] = {}): Promise<ApiFixture> {
  const [url, redis] = await Promise.all([freshDatabase('api'), useRedis()])
  return openApi(url, redis.url, api)
}

const now = (): number => Math.floor(Date.now() / 1000)

describe('the seed README curl examples, exactly as written', () => {
  let f: ApiFixture
  let base: string
  before(async () => {
    f = await freshApi()
    base = (await f.listen()).url
  })
  after(() => f.close())

  test('curl http://localhost:3000/data', async () => {
    await f.store.write([{ sensor_id: 'sensor-123', value: 21.5, timestamp: now() - 10 }])
    const { stdout } = await run('curl', ['-s', `${base}/data`])
    const body = JSON.parse(stdout) as unknown[]
    assert.ok(Array.isArray(body))
    assert.equal(body.length, 1)
  })

  test('curl http://localhost:3000/recent/sensor-123', async () => {
    const { stdout } = await run('curl', ['-s', `${base}/recent/sensor-123`])
    const body = JSON.parse(stdout)
    assert.deepEqual(Object.keys(body), ['sensor_id', 'value', 'timestamp'])
    assert.equal(body.sensor_id, 'sensor-123')
    assert.equal(body.value, 21.5)
  })

  test('curl -X POST … http://localhost:3000/data', async () => {
    // The seed's command, word for word, with only the address changed.
    const { stdout } = await run('curl', [
      '-s',
      '-w',
      '\n%{http_code}',
      '-X',
      'POST',
      '-H',
      'Content-Type: application/json',
      '-d',
      '{\n    "sensor_id": "sensor-456",\n    "value": 42.5,\n    "timestamp": 1689260000\n}',
      `${base}/data`
    ])
    const [json, status] = stdout
      .split('\n')
      .reduce<[string, string]>((acc, line, i, all) => (i === all.length - 1 ? [acc[0], line] : [acc[0] + line + '\n', acc[1]]), ['', ''])
    assert.equal(status, '201')
    const body = JSON.parse(json)
    assert.deepEqual(body, { inserted: 1, duplicates: 0, readings: [{ sensor_id: 'sensor-456', value: 42.5, timestamp: 1689260000, duplicate: false }] })
    const stored = await f.queries.latest('sensor-456')
    assert.deepEqual(stored, { sensor_id: 'sensor-456', value: 42.5, timestamp: 1689260000 })
  })
})

describe('endpoints', () => {
  let f: ApiFixture
  const t0 = now() - 3600
  before(async () => {
    f = await freshApi()
    const readings = []
    for (let i = 0; i < 30; i++) readings.push({ sensor_id: `s${i % 3}`, value: i, timestamp: t0 + i * 60 })
    await f.store.write(readings)
  })
  after(() => f.close())

  test('GET /data: 10 newest first, {sensor_id, value, timestamp}, Link to the next page', async () => {
    const res = await f.app.inject('/data')
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.length, 10)
    assert.deepEqual(body[0], { sensor_id: 's2', value: 29, timestamp: t0 + 29 * 60 })
    assert.deepEqual(
      body.map((r: { value: number }) => r.value),
      [29, 28, 27, 26, 25, 24, 23, 22, 21, 20]
    )
    assert.match(res.headers.link as string, /^<\/data\?cursor=[A-Za-z0-9_-]+>; rel="next"$/)
  })

  test('GET /data: limit, sensor_id, from and to (unix seconds and RFC 3339)', async () => {
    const from = new Date((t0 + 5 * 60) * 1000).toISOString()
    const res = await f.app.inject(`/data?sensor_id=s1&limit=1000&from=${from}&to=${t0 + 20 * 60}`)
    assert.equal(res.statusCode, 200)
    assert.deepEqual(
      res.json().map((r: { value: number }) => r.value),
      [19, 16, 13, 10, 7]
    )
    assert.equal(res.headers.link, undefined)
    const one = await f.app.inject('/data?limit=1')
    assert.equal(one.json().length, 1)
  })

  test('GET /data: following Link headers visits every reading once', async () => {
    const seen: number[] = []
    let url: string | undefined = '/data?limit=7'
    while (url !== undefined) {
      const path: string = url
      const res = await f.app.inject(path)
      assert.equal(res.statusCode, 200)
      seen.push(...res.json().map((r: { value: number }) => r.value))
      url = /^<([^>]+)>; rel="next"$/.exec((res.headers.link as string | undefined) ?? '')?.[1]
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => 29 - i)
    )
  })

  test('GET /recent/:sensor_id: from Redis, or on a miss from Postgres, filling the cache', async () => {
    const miss = await f.app.inject('/recent/s0')
    assert.equal(miss.statusCode, 200)
    assert.equal(miss.headers['x-cache'], 'miss')
    assert.deepEqual(miss.json(), { sensor_id: 's0', value: 27, timestamp: t0 + 27 * 60 })
    const hit = await f.app.inject('/recent/s0')
    assert.equal(hit.headers['x-cache'], 'hit')
    assert.deepEqual(hit.json(), miss.json())
  })

  test('GET /sensors and GET /sensors/:id/readings', async () => {
    await f.latest.update([
      { sensor_id: 's1', value: 28, timestamp: t0 + 28 * 60 },
      { sensor_id: 's2', value: 29, timestamp: t0 + 29 * 60 }
    ])
    const sensors = await f.app.inject('/sensors')
    assert.equal(sensors.statusCode, 200)
    assert.deepEqual(
      sensors.json().map((r: { sensor_id: string }) => r.sensor_id),
      ['s0', 's1', 's2']
    )
    const page = await f.app.inject(`/sensors/s2/readings?limit=3&from=${t0}&to=${t0 + 30 * 60}`)
    assert.equal(page.statusCode, 200)
    assert.deepEqual(
      page.json().map((r: { value: number }) => r.value),
      [29, 26, 23]
    )
    assert.match(page.headers.link as string, /^<\/sensors\/s2\/readings\?limit=3&from=\d+&to=\d+&cursor=[^>]+>; rel="next"$/)
    const next = await f.app.inject(/^<([^>]+)>/.exec(page.headers.link as string)?.[1] as string)
    assert.deepEqual(
      next.json().map((r: { value: number }) => r.value),
      [20, 17, 14]
    )
  })

  test('GET /sensors/:id/stats: count, min, max, mean per date_bin bucket', async () => {
    const from = t0 - (t0 % 600)
    const res = await f.app.inject(`/sensors/s0/stats?from=${from}&to=${from + 3600}&bucket=10m`)
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.equal(body.bucket_seconds, 600)
    const total = body.buckets.reduce((n: number, b: { count: number }) => n + b.count, 0)
    assert.equal(total, 10)
    for (const b of body.buckets) {
      assert.equal(b.start % 600, 0)
      assert.ok(b.min <= b.mean && b.mean <= b.max)
    }
    const tooMany = await f.app.inject(`/sensors/s0/stats?from=0&to=${now()}&bucket=1s`)
    assert.equal(tooMany.statusCode, 400)
    assert.equal(tooMany.json().details[0].path, '/bucket')
  })

  test('GET /healthz, /readyz, /metrics, /docs', async () => {
    assert.deepEqual((await f.app.inject('/healthz')).json(), { status: 'ok' })
    const ready = await f.app.inject('/readyz')
    assert.equal(ready.statusCode, 200)
    assert.deepEqual(ready.json(), { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } })
    const metrics = await f.app.inject('/metrics')
    assert.equal(metrics.statusCode, 200)
    assert.match(metrics.headers['content-type'] as string, /^text\/plain/)
    assert.match(metrics.body, /sensorstream_api_requests_total\{method="GET",route="\/healthz",status="200"/)
    assert.match(metrics.body, /sensorstream_api_request_duration_seconds_bucket\{le="0\.001",.*method="GET",route="\/readyz",status="200"\}/)
    const docs = await f.app.inject('/docs')
    assert.ok(docs.statusCode === 200 || docs.statusCode === 302)
  })

  test('GET /openapi.json validates as OpenAPI 3 and lists every route', async () => {
    const res = await f.app.inject('/openapi.json')
    assert.equal(res.statusCode, 200)
    const doc = res.json()
    const result = await new Validator().validate(doc)
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2))
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)
    )
    assert.deepEqual(listed.sort(), [
      'GET /data',
      'GET /docs',
      'GET /healthz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /readyz',
      'GET /recent/{sensor_id}',
      'GET /sensors',
      'GET /sensors/{id}/readings',
      'GET /sensors/{id}/series',
      'GET /sensors/{id}/stats',
      'GET /status',
      'GET /stream',
      'GET /ws',
      'POST /data'
    ])
  })
})

describe('POST /data', () => {
  let f: ApiFixture
  before(async () => {
    f = await freshApi()
  })
  after(() => f.close())

  test('an array is stored in one go; a retry three times stores one row per reading and names the duplicates', async () => {
    const t = now() - 100
    const body = [
      { sensor_id: 'p1', value: 1, timestamp: t },
      { sensor_id: 'p2', value: 2, timestamp: t + 0.5 }
    ]
    const first = await f.app.inject({ method: 'POST', url: '/data', payload: body })
    assert.equal(first.statusCode, 201)
    assert.deepEqual(
      first.json().readings.map((r: { duplicate: boolean }) => r.duplicate),
      [false, false]
    )
    for (let i = 0; i < 3; i++) {
      const again = await f.app.inject({ method: 'POST', url: '/data', payload: body })
      assert.equal(again.statusCode, 201)
      assert.equal(again.json().inserted, 0)
      assert.equal(again.json().duplicates, 2)
      assert.deepEqual(
        again.json().readings.map((r: { duplicate: boolean }) => r.duplicate),
        [true, true]
      )
    }
    const { rows } = await f.db.pool.query('SELECT count(*)::int AS n FROM sensor_data WHERE sensor_id IN ($1, $2)', ['p1', 'p2'])
    assert.equal(rows[0].n, 2)
    assert.deepEqual((await f.app.inject('/recent/p2')).json(), { sensor_id: 'p2', value: 2, timestamp: t + 0.5 })
  })

  test('a missing timestamp means now; the latest value follows timestamps, not arrival', async () => {
    const before = Date.now() / 1000
    const res = await f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'p3', value: 7 } })
    assert.equal(res.statusCode, 201)
    const ts = res.json().readings[0].timestamp
    assert.ok(ts >= before - 0.001 && ts <= Date.now() / 1000 + 0.001)
    await f.app.inject({ method: 'POST', url: '/data', payload: { sensor_id: 'p3', value: 1, timestamp: ts - 60 } })
    assert.equal((await f.app.inject('/recent/p3')).json().value, 7)
  })

  test('all or nothing: every bad field by path, nothing stored', async () => {
    const res = await f.app.inject({
      method: 'POST',
      url: '/data',
      payload: [
        { sensor_id: 'ok', value: 1, timestamp: now() },
        { sensor_id: 'bad id', value: 'x' },
        { sensor_id: 'ok', value: 1, timestamp: 1_700_000_000_000 },
        { value: 1 },
        42
      ]
    })
    assert.equal(res.statusCode, 400)
    const body = res.json()
    assert.equal(body.error, 'VALIDATION_FAILED')
    assert.deepEqual(
      body.details.map((d: { path: string }) => d.path),
      ['/1/sensor_id', '/1/value', '/2/timestamp', '/3/sensor_id', '/4']
    )
    const { rows } = await f.db.pool.query("SELECT count(*)::int AS n FROM sensor_data WHERE sensor_id = 'ok'")
    assert.equal(rows[0].n, 0)
  })

  test('10,000 readings in one request; 10,001 refused', async () => {
    const t = now() - 20_000
    const many = Array.from({ length: 10_000 }, (_, i) => ({ sensor_id: `bulk-${i % 100}`, value: i, timestamp: t + i }))
    const res = await f.app.inject({ method: 'POST', url: '/data', payload: many })
    assert.equal(res.statusCode, 201)
    assert.equal(res.json().inserted, 10_000)
    const tooMany = await f.app.inject({ method: 'POST', url: '/data', payload: [...many, many[0]] })
    assert.equal(tooMany.statusCode, 400)
    assert.deepEqual(tooMany.json().details, [{ path: '/', message: 'must contain at most 10000 readings, got 10001' }])
  })
})

describe('errors', () => {
  let f: ApiFixture
  before(async () => {
    f = await freshApi({ bodyLimitBytes: 2048 })
  })
  after(() => f.close())

  const post = (payload: string, contentType = 'application/json') =>
    f.app.inject({ method: 'POST', url: '/data', payload, headers: { 'content-type': contentType } })

  test('400 for invalid JSON', async () => {
    const res = await post('{"sensor_id": "a", ')
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().error, 'INVALID_JSON')
    assert.equal((await post('')).json().error, 'INVALID_JSON')
  })

  test('400 for a bad query, each field by path', async () => {
    const res = await f.app.inject('/data?limit=5000&from=yesterday&sensor_id=a%20b&colour=red')
    assert.equal(res.statusCode, 400)
    const paths = res
      .json()
      .details.map((d: { path: string }) => d.path)
      .sort()
    assert.deepEqual(paths, ['/colour', '/from', '/limit', '/sensor_id'])
    const cursor = await f.app.inject('/data?cursor=bm90LWEtY3Vyc29y')
    assert.equal(cursor.statusCode, 400)
    assert.equal(cursor.json().details[0].path, '/cursor')
    const range = await f.app.inject('/data?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z')
    assert.deepEqual(range.json().details, [{ path: '/to', in: 'query', message: 'must be after from' }])
    const badId = await f.app.inject('/recent/' + 'x'.repeat(129))
    assert.equal(badId.statusCode, 400)
  })

  test('404 for an unknown sensor and an unknown path', async () => {
    for (const url of ['/recent/nobody', '/sensors/nobody/readings', '/sensors/nobody/stats', '/nothing/here']) {
      const res = await f.app.inject(url)
      assert.equal(res.statusCode, 404, url)
      assert.equal(res.json().error, 'NOT_FOUND')
      assert.equal(typeof res.json().message, 'string')
    }
  })

  test('405 with Allow for a known path and the wrong method', async () => {
    const res = await f.app.inject({ method: 'DELETE', url: '/data' })
    assert.equal(res.statusCode, 405)
    assert.equal(res.headers.allow, 'GET, HEAD, POST')
    assert.equal(res.json().error, 'METHOD_NOT_ALLOWED')
    assert.equal((await f.app.inject({ method: 'POST', url: '/recent/x' })).statusCode, 405)
  })

  test('413 for a body over the limit', async () => {
    const res = await post(JSON.stringify(Array.from({ length: 100 }, () => ({ sensor_id: 'a', value: 1 }))))
    assert.equal(res.statusCode, 413)
    assert.equal(res.json().error, 'PAYLOAD_TOO_LARGE')
  })

  test('415 for a body that is not JSON', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await post('sensor_id=a&value=1', type)
      assert.equal(res.statusCode, 415, type)
      assert.equal(res.json().error, 'UNSUPPORTED_MEDIA_TYPE')
    }
  })
})

describe('API keys', () => {
  let writes: ApiFixture
  let reads: ApiFixture
  before(async () => {
    writes = await freshApi({ apiKeys: ['k1', 'k2'] })
    reads = await freshApi({ apiKeys: ['k1'], readAuth: true })
  })
  after(async () => {
    await writes.close()
    await reads.close()
  })

  const reading = { sensor_id: 'auth', value: 1, timestamp: now() }

  test('writes need a bearer key: 401 without, 403 wrong, 201 right; reads stay open', async () => {
    const none = await writes.app.inject({ method: 'POST', url: '/data', payload: reading })
    assert.equal(none.statusCode, 401)
    assert.equal(none.json().error, 'UNAUTHORIZED')
    assert.match(none.headers['www-authenticate'] as string, /^Bearer/)
    const wrong = await writes.app.inject({ method: 'POST', url: '/data', payload: reading, headers: { authorization: 'Bearer nope' } })
    assert.equal(wrong.statusCode, 403)
    assert.equal(wrong.json().error, 'FORBIDDEN')
    const right = await writes.app.inject({ method: 'POST', url: '/data', payload: reading, headers: { authorization: 'Bearer k2' } })
    assert.equal(right.statusCode, 201)
    assert.equal((await writes.app.inject('/data')).statusCode, 200)
  })

  test('API_READ_AUTH=true: reads need a key too; probes stay open', async () => {
    assert.equal((await reads.app.inject('/data')).statusCode, 401)
    assert.equal((await reads.app.inject({ url: '/data', headers: { authorization: 'Bearer k2' } })).statusCode, 403)
    assert.equal((await reads.app.inject({ url: '/data', headers: { authorization: 'Bearer k1' } })).statusCode, 200)
    assert.equal((await reads.app.inject('/healthz')).statusCode, 200)
    assert.equal((await reads.app.inject('/readyz')).statusCode, 200)
  })

  test('API_READ_AUTH=true: the dashboard page and its assets stay open (it asks for the key), what it reads does not', async () => {
    for (const url of ['/', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/vendor/uPlot.esm.js'])
      assert.equal((await reads.app.inject(url)).statusCode, 200, url)
    for (const url of ['/sensors', '/status', '/stream', '/sensors/a/series?from=0&to=1&points=1'])
      assert.equal((await reads.app.inject(url)).statusCode, 401, url)
    assert.equal((await reads.app.inject({ method: 'POST', url: '/', payload: {} })).statusCode, 401, 'only reads of the page are open')
  })
})

describe('CORS', () => {
  test('allowed origins get the headers, others do not', async () => {
    const f = await freshApi({ corsOrigins: ['https://app.example'] })
    try {
      const ok = await f.app.inject({ url: '/data', headers: { origin: 'https://app.example' } })
      assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example')
      const other = await f.app.inject({ url: '/data', headers: { origin: 'https://evil.example' } })
      assert.equal(other.headers['access-control-allow-origin'], undefined)
      const preflight = await f.app.inject({
        method: 'OPTIONS',
        url: '/data',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' }
      })
      assert.equal(preflight.statusCode, 204)
    } finally {
      await f.close()
    }
  })
})

describe('paging while readings arrive', () => {
  test('every reading of the range is returned once', async () => {
    const f = await freshApi()
    try {
      const t = now() - 7200
      // Several sensors share each timestamp, so the (ts, id) tie-break matters.
      const initial = Array.from({ length: 500 }, (_, i) => ({ sensor_id: `m${i % 5}`, value: i, timestamp: t + Math.floor(i / 5) }))
      await f.store.write(initial)
      const seen = new Map<string, number>()
      let url: string | undefined = '/data?limit=37'
      let arriving = 0
      while (url !== undefined) {
        // New readings land between pages: newer ones, and late ones inside the range already paged.
        await f.store.write([
          { sensor_id: 'new', value: -1, timestamp: now() - 1 + arriving / 1000 },
          { sensor_id: 'late', value: -2, timestamp: t + 99 - arriving / 1000 }
        ])
        arriving++
        const path: string = url
        const res = await f.app.inject(path)
        assert.equal(res.statusCode, 200)
        for (const r of res.json() as { sensor_id: string; timestamp: number }[]) {
          const key = `${r.sensor_id}@${r.timestamp}`
          seen.set(key, (seen.get(key) ?? 0) + 1)
        }
        url = /^<([^>]+)>; rel="next"$/.exec((res.headers.link as string | undefined) ?? '')?.[1]
      }
      for (const r of initial) assert.equal(seen.get(`${r.sensor_id}@${r.timestamp}`), 1, `${r.sensor_id}@${r.timestamp}`)
      for (const [key, n] of seen) assert.equal(n, 1, key)
    } finally {
      await f.close()
    }
  })
})

describe('live stream (real listen)', () => {
  test('GET /stream delivers posted readings as SSE, filtered by sensor_id', async () => {
    const f = await freshApi()
    const api = await f.listen()
    const controller = new AbortController()
    try {
      const res = await fetch(`${api.url}/stream?sensor_id=live-1`, { signal: controller.signal })
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') as string, /^text\/event-stream/)
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let text = ''
      const t = now()
      await fetch(`${api.url}/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          { sensor_id: 'live-2', value: 2, timestamp: t },
          { sensor_id: 'live-1', value: 1, timestamp: t }
        ])
      })
      await waitFor('an SSE event', async () => {
        const { value } = await reader.read()
        text += decoder.decode(value)
        return text.includes('event: reading') ? true : undefined
      })
      assert.match(text, /event: reading\ndata: \{"sensor_id":"live-1","value":1,"timestamp":\d+\}\n\n/)
      assert.doesNotMatch(text, /live-2/)
    } finally {
      controller.abort()
      await f.close()
    }
  })
})
