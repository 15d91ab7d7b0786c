// The dashboard with API_READ_AUTH=true in a real browser (Chromium through playwright-core) on real
// Postgres and Redis: the page loads without a key and asks for one, a wrong key is refused, the
// right one shows the sensors and a POSTed reading arrives live; every request of the page carries
// the key; after a drop the stream resumes with Last-Event-ID and delivers what was posted meanwhile;
// the page's event-stream parser takes events split anywhere across chunks.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Page, Request } from 'playwright-core'
import { freshDatabase, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from '../api/setup.ts'
import { launchChromium, type Browser } from './chromium.ts'

const RESULTS = 'test-results'
const KEY = 'dash-key-1'
const SENSORS = 50

/** A TCP proxy in front of the API, so that a test can cut every connection the browser has. */
async function openProxy(target: URL): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const track = (s: Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname)
    track(client)
    track(upstream)
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const s of sockets) s.destroy()
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

describe('the dashboard with API_READ_AUTH=true', () => {
  let f: ApiFixture
  /** the API itself (the test's own requests) */
  let base: string
  /** the API through the proxy (the browser's) */
  let proxy: Awaited<ReturnType<typeof openProxy>>
  let site: string
  let browser: Browser
  let page: Page
  const problems: string[] = []
  const requests: Request[] = []

  async function post(readings: unknown): Promise<void> {
    const res = await fetch(`${base}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify(readings)
    })
    assert.equal(res.status, 201, await res.text())
  }

  before(async () => {
    browser = await launchChromium()
    const [url, redis] = await Promise.all([freshDatabase('dash-auth'), useRedis()])
    f = await openApi(url, redis.url, { apiKeys: [KEY], readAuth: true }, { alerts: true })
    base = (await f.listen()).url
    proxy = await openProxy(new URL(base))
    site = proxy.url
    const now = Date.now() / 1000
    await post(Array.from({ length: SENSORS }, (_, i) => ({ sensor_id: `locked-${i + 1}`, value: i, timestamp: now - 60 + i })))
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    page.on('console', (m) => {
      // The browser logs each refused request itself, and the stream cut by the proxy: what the test provokes.
      if (/status of 40[13]|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(m.text())) return
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    page.on('request', (r) => {
      if (r.url().startsWith(site)) requests.push(r)
    })
    mkdirSync(RESULTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await proxy?.close()
    await f?.close()
  })

  test('the page loads without a key and asks for one; a wrong key is refused', async () => {
    const page0 = await page.goto(site)
    assert.equal(page0?.status(), 200)
    await page.waitForSelector('#key-dialog[open]')
    assert.match((await page.locator('#key-message').textContent()) ?? '', /needs a key/)
    await page.screenshot({ path: `${RESULTS}/dashboard-key-prompt.png` })
    assert.equal(await page.evaluate('window.sensorstream.sensors.size'), 0, 'nothing read without a key')
    await page.fill('#key-input', 'not-the-key')
    await page.press('#key-input', 'Enter')
    await page.waitForFunction("/not valid/.test(document.getElementById('key-message')?.textContent ?? '')")
    assert.ok(await page.locator('#key-dialog[open]').isVisible(), 'asked again')
  })

  test('the right key shows the sensors and the live stream; a POSTed reading arrives live', async () => {
    await page.fill('#key-input', KEY)
    await page.click('#key-dialog button[type="submit"]')
    await page.waitForFunction("!document.getElementById('key-dialog')?.open")
    await page.waitForFunction(`document.getElementById('count')?.textContent === '${SENSORS}'`)
    await page.waitForFunction("document.getElementById('connection')?.textContent === 'live'")
    await page.waitForFunction("document.querySelector('#deps .pill-ok')?.textContent?.startsWith('postgres')")
    assert.equal(await page.evaluate("sessionStorage.getItem('sensorstream-api-key')"), KEY)
    await page.fill('#search', 'locked-7')
    await page.waitForFunction("document.getElementById('shown')?.textContent?.startsWith('1 of')")
    const posted = Date.now()
    await post({ sensor_id: 'locked-7', value: 4321.5, timestamp: posted / 1000 })
    await page.waitForFunction("document.querySelector('#list-rows .row .value')?.textContent === '4,321.5'", undefined, { timeout: 3000 })
    console.log(`dashboard with a key: a posted reading was in the table ${Date.now() - posted} ms after POST /data`)
    await page.screenshot({ path: `${RESULTS}/dashboard-with-key.png` })
  })

  test('every request of the page for data carries the key; its static files needed none', async () => {
    const paths = (r: Request): string => new URL(r.url()).pathname
    const data = requests.filter((r) => !(paths(r) === '/' || paths(r).startsWith('/dashboard/')))
    for (const wanted of ['/sensors', '/status', '/stream', '/alerts', '/sensors/locked-1/series']) {
      const made = data.filter((r) => paths(r) === wanted)
      assert.ok(made.length > 0, `the page asked for ${wanted}`)
      assert.ok(
        made.some((r) => r.headers()['authorization'] === `Bearer ${KEY}`),
        `${wanted} with the key`
      )
    }
    const keyed = data.filter((r) => r.headers()['authorization'] !== undefined)
    assert.ok(keyed.every((r) => r.headers()['authorization'] === `Bearer ${KEY}` || r.headers()['authorization'] === 'Bearer not-the-key'))
    assert.ok(requests.filter((r) => paths(r).startsWith('/dashboard/')).every((r) => r.headers()['authorization'] === undefined))
  })

  test('after a drop the stream resumes with Last-Event-ID and delivers what was posted while away', async () => {
    const streamsBefore = requests.filter((r) => new URL(r.url()).pathname === '/stream').length
    // What the stream itself delivers (the page reloads the latest values on reconnect too).
    await page.evaluate("window.streamed = []; window.sensorstream.stream.addEventListener('reading', (e) => window.streamed.push(JSON.parse(e.data).value))")
    proxy.cut()
    await page.waitForFunction("document.getElementById('connection')?.textContent === 'reconnecting…'", undefined, { timeout: 5000 })
    // posted while the page is away (it tries again after 2 s)
    await post({ sensor_id: 'locked-7', value: 777.5, timestamp: Date.now() / 1000 })
    await page.waitForFunction("document.getElementById('connection')?.textContent === 'live'", undefined, { timeout: 10_000 })
    await page.waitForFunction('window.streamed.includes(777.5)', undefined, { timeout: 5000 })
    assert.deepEqual(await page.evaluate('window.streamed'), [777.5], 'replayed once, nothing else')
    await page.waitForFunction("document.querySelector('#list-rows .row .value')?.textContent === '777.5'", undefined, { timeout: 5000 })
    const again = requests.filter((r) => new URL(r.url()).pathname === '/stream').slice(streamsBefore)
    assert.ok(again.length > 0, 'the stream was asked for again')
    const resumed = again.find((r) => r.headers()['last-event-id'] !== undefined)
    assert.ok(resumed !== undefined, 'with Last-Event-ID')
    assert.match(resumed.headers()['last-event-id'] as string, /^\d+-locked-7$/)
    assert.equal(resumed.headers()['authorization'], `Bearer ${KEY}`)
  })

  test("the page's event-stream parser takes events split anywhere, with CR, LF or CRLF", async () => {
    const got = await page.evaluate(`(async () => {
      const { EventParser } = await import('/dashboard/stream.js')
      const text = 'retry: 500\\r\\n: ping\\n\\nid: 1-a\\nevent: reading\\ndata: {"v":1}\\n\\r\\nevent: alert\\ndata: x\\ndata:y\\r\\rid: 2-b\\ndata: last\\r\\n\\r\\n'
      const results = []
      for (let size = 1; size <= text.length; size++) {
        const state = { lastEventId: '', retryMs: 0 }
        const events = []
        const parser = new EventParser((type, data) => events.push([type, data, state.lastEventId]), state)
        for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size))
        results.push(JSON.stringify({ events, lastEventId: state.lastEventId, retryMs: state.retryMs }))
      }
      return [...new Set(results)]
    })()`)
    assert.deepEqual(got, [
      JSON.stringify({
        events: [
          ['reading', '{"v":1}', '1-a'],
          ['alert', 'x\ny', '1-a'],
          ['message', 'last', '2-b']
        ],
        lastEventId: '2-b',
        retryMs: 500
      })
    ])
  })

  test('no console error or warning on the way but the refused requests', () => {
    assert.deepEqual(problems, [])
  })
})
