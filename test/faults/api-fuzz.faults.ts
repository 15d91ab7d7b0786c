// The API under a fuzzer: thousands of generated methods, paths, query strings, headers and bodies
// from a printed seed, against the real `sensorstream api` process with Postgres and Redis up. No
// 5xx; every error is JSON {error, message} with one of the README's codes; the process stays alive
// and its memory comes back near where it started.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import { ownPostgres, ownRedis, uniqueName } from '../harness/index.ts'
import { startCli, waitFor } from '../e2e/support.ts'
import { report } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

const REQUESTS = 4_000
const CONCURRENCY = 16
const TIME_LIMIT_MS = 120_000

/** The error codes the README documents: the Code column of the table after **Errors.** (500 INTERNAL left out: a bug). */
function documentedCodes(): Set<string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('**Errors.**')
  const section = readme.slice(start, readme.indexOf('**Faults.**', start))
  const codes = new Set<string>()
  for (const row of section.matchAll(/^\| (\d{3}) \| ([^|]+) \|/gm)) {
    if (row[1] === '500') continue
    for (const code of (row[2] as string).matchAll(/`([A-Z][A-Z_]+)`/g)) codes.add(code[1] as string)
  }
  assert.ok(codes.size >= 10, `the README's error table lists the codes (${[...codes].join(', ')})`)
  return codes
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
}

type Pick = <T>(items: readonly T[]) => T

function generator(random: () => number): { pick: Pick; request: () => FuzzRequest } {
  const pick: Pick = (items) => items[Math.floor(random() * items.length)] as (typeof items)[number]
  const now = Math.floor(Date.now() / 1000)
  const b64 = (s: string): string => Buffer.from(s).toString('base64url')
  const ids = ['sensor-1', 'f-2', 'x', 'a'.repeat(128), 'a'.repeat(129), 'bad id', '%C0%AF', '%', '%zz', '..', 'é', '%00', 'line-4.*', 'k'.repeat(20_000)]
  const paths = [
    '/data',
    '/data/',
    '/recent/ID',
    '/sensors',
    '/sensors/ID/readings',
    '/sensors/ID/stats',
    '/sensors/ID/series',
    '/stream',
    '/healthz',
    '/readyz',
    '/metrics',
    '/openapi.json',
    '/docs',
    '/docs/static/index.html',
    '/',
    '/nope',
    '/data/ID',
    '/recent',
    '/recent/',
    '//data',
    '/sensors/ID',
    '/%2e%2e/etc/passwd',
    '/ws'
  ]
  const values = [
    'Infinity',
    '-Infinity',
    '1e400',
    'NaN',
    '-1',
    '0',
    '1',
    '10',
    '1000',
    '1001',
    '9223372036854775808',
    '1.5',
    'abc',
    '',
    ' ',
    String(now),
    String(now * 1000),
    '2026-01-01T00:00:00Z',
    '2026-13-45T99:99:99Z',
    '1m',
    '30s',
    '1h',
    '1d',
    '0s',
    '-5m',
    '1000000d',
    'v1.9999999999999999999.9999999999999999999',
    b64('v1.9999999999999999999.9999999999999999999'),
    b64('v1.-9223372036854775808.1'),
    b64('v1.9223372036854775807.9223372036854775807'),
    b64('v1.1.1'),
    b64('garbage'),
    'sensor-1,sensor-2',
    '%00',
    '%C0%AF',
    'x'.repeat(5_000)
  ]
  const keys = ['limit', 'cursor', 'from', 'to', 'sensor_id', 'bucket', 'points', 'since', 'foo', 'limit', '__proto__', 'constructor']
  const contentTypes = [
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'application/json; charset=latin1',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/JSON',
    '*/*',
    'application/json;;;'
  ]
  const reading = (): unknown => ({
    sensor_id: pick(['fz-1', 'fz-2', 'fz-3', pick(ids)]),
    value: pick([1, -1.5, 1e308, 0, 'NaN', null, 42]),
    timestamp: pick([now, now - 86_400, now * 1000, 946_684_799, 'yesterday', null, undefined])
  })
  const bodies: (() => string | Buffer | undefined)[] = [
    () => undefined,
    () => JSON.stringify(reading()),
    () => JSON.stringify(Array.from({ length: 1 + Math.floor(random() * 100) }, reading)),
    () => JSON.stringify({ sensor_id: `fz-${Math.floor(random() * 50)}`, value: random(), timestamp: now - Math.floor(random() * 3600) }),
    () => '{"sensor_id": "x", "value": ',
    () => '['.repeat(5_000) + ']'.repeat(5_000),
    () => '{"a":'.repeat(3_000) + '1' + '}'.repeat(3_000),
    () => '',
    () => 'null',
    () => '"string"',
    () => Buffer.from(Array.from({ length: 1 + Math.floor(random() * 3_000) }, () => Math.floor(random() * 256))),
    () => JSON.stringify({ sensor_id: 'fz-big', value: 1, timestamp: now, pad: 'x'.repeat(5 * 1024 * 1024) }),
    () => JSON.stringify(Array.from({ length: 10_001 }, () => ({ sensor_id: 'fz-many', value: 1, timestamp: now })))
  ]
  const request = (): FuzzRequest => {
    const method = pick(['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO'])
    let path = pick(paths).replace('ID', encodeURIComponent(pick(ids)).replace(/%25/g, random() < 0.5 ? '%' : '%25'))
    const query = Array.from(
      { length: Math.floor(random() * 4) },
      () => `${pick(keys)}=${encodeURIComponent(pick(values)).replace(/%25/g, random() < 0.3 ? '%' : '%25')}`
    )
    if (query.length > 0) path += `?${query.join('&')}`
    const headers: Record<string, string> = {}
    const type = pick(contentTypes)
    if (type !== undefined) headers['content-type'] = type
    if (random() < 0.2) headers.authorization = pick(['Bearer nope', 'Basic Zm9vOmJhcg==', 'Bearer ', 'x'.repeat(300)])
    if (random() < 0.1) headers['last-event-id'] = pick(values)
    if (random() < 0.1) headers.accept = pick(['text/event-stream', 'application/xml', '*/*'])
    if (random() < 0.05) headers['x-big'] = 'y'.repeat(20_000 + Math.floor(random() * 60_000))
    const body = method === 'GET' || method === 'HEAD' ? (random() < 0.05 ? pick(bodies)() : undefined) : pick(bodies)()
    return { method, path, headers, body }
  }
  return { pick, request }
}

interface FuzzRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string | Buffer | undefined
}

interface FuzzAnswer {
  readonly status: number
  readonly body: string
  readonly contentType: string
}

function send(port: number, r: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, timeout: 15_000, agent: false }, (res) => {
      const contentType = String(res.headers['content-type'] ?? '')
      if (contentType.startsWith('text/event-stream')) {
        // a live stream never ends by itself: its headers are the answer
        res.destroy()
        resolve({ status: res.statusCode ?? 0, body: '', contentType })
        return
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType }))
      res.on('error', reject)
    })
    req.on('timeout', () => {
      resolve({ status: -3, body: 'no answer within 15 s', contentType: '' })
      req.destroy()
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      // the server may answer and close before reading a body it refuses (413, 415)
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: -1, body: '', contentType: '' })
      else if (err.code?.startsWith('HPE_') === true)
        resolve({
          status: -2,
          body: `the answer is not valid HTTP (${err.message}): ${String((err as { rawPacket?: Buffer }).rawPacket?.toString('latin1'))}`,
          contentType: ''
        })
      else reject(err)
    })
    if (r.body !== undefined) req.write(r.body)
    req.end()
  })
}

/** Requests no HTTP client library would send: broken request lines, headers and framing. */
const RAW = [
  'GET /data HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
  'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
  'GARBAGE\r\n\r\n',
  'GET /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}',
  `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  `GET /data HTTP/1.1\r\nHost: x\r\nX: ${'b'.repeat(100_000)}\r\n\r\n`,
  'GET /data HTTP/1.1\r\nHo st: x\r\n\r\n',
  'GET /data\u0000 HTTP/1.1\r\nHost: x\r\n\r\n'
]

function sendRaw(port: number, text: string): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let answer = ''
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0)
      const split = answer.indexOf('\r\n\r\n')
      const head = split < 0 ? answer : answer.slice(0, split)
      resolve({ status, body: split < 0 ? '' : answer.slice(split + 4), contentType: /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '' })
    })
    socket.write(text, () => socket.end())
  })
}

test('the API under a fuzzer: no 5xx, documented JSON errors, alive, memory back', async (t) => {
  const seed = runSeed()
  const random = new Workload({ seed, readings: 1, sensors: 1 }).random
  t.diagnostic(`seed: ${seed} (FAULTS_SEED=${seed} replays this run)`)
  const codes = documentedCodes()
  const [postgres, redis] = await Promise.all([ownPostgres(), ownRedis()])
  const url = await postgres.createDatabase(uniqueName('fuzz'))
  const port = await freePort()
  const api = startCli('api', {
    DATABASE_URL: url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `${uniqueName('fuzz')}:`,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error'
  })
  try {
    await waitFor('the API', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000)
    const { request } = generator(random)
    const statuses = new Map<number, number>()
    const problems: string[] = []
    const check = (r: { method: string; path: string }, answer: FuzzAnswer): void => {
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
      const what = `${r.method} ${r.path.slice(0, 120)} → ${answer.status}`
      if (answer.status >= 500 || answer.status === -2 || answer.status === -3) problems.push(`${what}: ${answer.body.slice(0, 600)}`)
      if (answer.status >= 400 && r.method !== 'HEAD' && answer.status !== -1) {
        let body: { error?: unknown; message?: unknown } | undefined
        try {
          body = JSON.parse(answer.body) as typeof body
        } catch {
          problems.push(`${what}: not JSON: ${answer.body.slice(0, 200)}`)
          return
        }
        if (typeof body?.error !== 'string' || !codes.has(body.error)) problems.push(`${what}: error code ${String(body?.error)} is not in the README`)
        if (typeof body?.message !== 'string') problems.push(`${what}: no message`)
      }
    }
    // warm up, then the baseline of memory
    for (let i = 0; i < 200; i++) await send(port, request())
    await delay(1_000)
    const pid = api.child.pid as number
    const startRss = rssKb(pid)
    const deadline = Date.now() + TIME_LIMIT_MS
    let sent = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < REQUESTS && Date.now() < deadline) {
          sent++
          const r = request()
          check(r, await send(port, r))
        }
      })
    )
    for (const text of RAW) check({ method: 'RAW', path: JSON.stringify(text.slice(0, 60)) }, await sendRaw(port, text))
    assert.equal(api.child.exitCode, null, 'the API process is alive')
    assert.ok((await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 'still ready')
    await delay(3_000)
    const endRss = rssKb(pid)
    report(t, {
      scenario: 'api-fuzz',
      injected: [`${sent} generated requests and ${RAW.length} malformed ones, ${CONCURRENCY} at a time`],
      statuses: [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`),
      problems: problems.length,
      api_rss_start_mb: Math.round(startRss / 1024),
      api_rss_end_mb: Math.round(endRss / 1024)
    })
    assert.deepEqual(problems.slice(0, 30), [], `${problems.length} problems`)
    assert.ok(sent >= 1_000, `at least 1,000 requests sent (${sent})`)
    assert.ok(endRss - startRss < 150 * 1024, `memory back near the start: ${Math.round(startRss / 1024)} → ${Math.round(endRss / 1024)} MB`)
    assert.equal(await api.stop(), 0)
  } finally {
    if (api.child.exitCode === null) await api.kill()
  }
})
