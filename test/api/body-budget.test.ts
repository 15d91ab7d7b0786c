// A burst of concurrent multi-megabyte bodies (issue 11): what bodies may hold at once is bounded by
// API_BODY_BUDGET_BYTES, requests over it get 503 with Retry-After, and the API's memory comes back
// near where it started. The API runs in a child process so that its RSS is its own.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { freshDatabase, useRedis } from '../harness/index.ts'

const MB = 1024 * 1024
const BUDGET = 16 * MB
const BODY_BYTES = 3.9 * MB
const CLIENTS = 40

function gauge(metrics: string, name: string): number {
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN)
}

test(`${CLIENTS} concurrent ${BODY_BYTES / MB} MB bodies: bodies in flight stay within the budget, the rest get 503, RSS comes back`, async (t) => {
  const [databaseUrl, redis] = await Promise.all([freshDatabase('bodies'), useRedis()])
  const child = spawn(process.execPath, ['--expose-gc', new URL('./body-server.ts', import.meta.url).pathname], {
    env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redis.url, API_BODY_BUDGET_BYTES: String(BUDGET) },
    stdio: ['pipe', 'pipe', 'inherit']
  })
  t.after(() => {
    child.kill('SIGKILL')
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async <T>(): Promise<T> => JSON.parse((await lines.next()).value as string) as T
  const rss = async (): Promise<{ rss: number; peakRss: number }> => {
    child.stdin.write('rss\n')
    return next()
  }
  const { url } = await next<{ url: string }>()

  const t0 = Math.floor(Date.now() / 1000) - 60
  const body = (i: number): string => {
    const head = JSON.stringify([{ sensor_id: 'big', value: i, timestamp: t0 + i, pad: '' }]).slice(0, -3)
    return `${head}${'x'.repeat(BODY_BYTES - head.length - 3)}"}]`
  }
  const post = async (i: number) => {
    const res = await fetch(`${url}/data`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) })
    return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as { error?: string } }
  }
  // warm up with a few bodies one at a time: the baseline is the API having handled large bodies
  for (let i = 0; i < 3; i++) assert.equal((await post(i)).status, 201)
  const before = await rss()

  let maxInFlight = 0
  let polling = true
  const poller = (async () => {
    while (polling) {
      const text = await (await fetch(`${url}/metrics`)).text()
      maxInFlight = Math.max(maxInFlight, gauge(text, 'sensorstream_api_body_bytes_in_flight'))
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  const answers = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => post(100 + i)))
  polling = false
  await poller

  const metrics = await (await fetch(`${url}/metrics`)).text()
  await new Promise((r) => setTimeout(r, 1000))
  const after = await rss()
  const grew = (after.rss - before.rss) / MB
  const refused = answers.filter((a) => a.status === 503)
  console.log(
    `rss before ${(before.rss / MB).toFixed(0)} MB, peak ${(after.peakRss / MB).toFixed(0)} MB, after ${(after.rss / MB).toFixed(0)} MB (${grew >= 0 ? '+' : ''}${grew.toFixed(0)} MB); ` +
      `${answers.length - refused.length} stored, ${refused.length} refused; bodies in flight peaked at ${(maxInFlight / MB).toFixed(1)} MB`
  )

  for (const a of answers) assert.ok(a.status === 201 || a.status === 503, `status ${a.status}`)
  for (const a of refused) {
    assert.equal(a.json.error, 'UNAVAILABLE')
    assert.equal(a.retryAfter, '1')
  }
  assert.ok(refused.length > 0, 'some bodies must be refused: the budget holds four at most')
  assert.ok(maxInFlight > 0 && maxInFlight <= BUDGET, `bodies in flight peaked at ${maxInFlight} bytes (budget ${BUDGET})`)
  assert.equal(gauge(metrics, 'sensorstream_api_body_bytes_in_flight'), 0)
  // The budget itself is checked above (bodies in flight). The RSS peak also holds what waits for the garbage
  // collector: the chunks of refused bodies, which Node reads and drops so that the connection stays usable
  // (closing it instead would show clients a reset, not the 503), and the strings of stored ones. How much
  // waits depends on when V8 collects, so this bound only catches a runaway; after a collection, so does the
  // next one (the allocator keeps some freed memory for a while).
  assert.ok((after.peakRss - before.rss) / MB < 200, `RSS peaked ${((after.peakRss - before.rss) / MB).toFixed(0)} MB above where it started`)
  assert.ok(grew < 150, `RSS stayed ${grew.toFixed(0)} MB above where it started`)
  child.stdin.end()
})
