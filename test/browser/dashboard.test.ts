// The dashboard in a real browser (Chromium through playwright-core) on real Postgres and Redis,
// with 10,000 sensors: it loads without a console error, renders only the rows on screen, shows a
// POST /data in the table and the chart within a second, draws the stats of a longer range, and
// leaves desktop and phone screenshots in test-results/.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { freshDatabase, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from '../api/setup.ts'
import { postReadings } from '../live/clients.ts'
import { launchChromium, type Browser } from './chromium.ts'
import { AlertEvaluator } from '../../src/services/streaming/alert-evaluator.ts'
import { logger } from '../api/setup.ts'

const RESULTS = 'test-results'
const FLEET = 10_000

describe('the dashboard in Chromium', () => {
  let f: ApiFixture
  let base: string
  let browser: Browser
  let page: Page
  const problems: string[] = []

  before(async () => {
    browser = await launchChromium()
    const [url, redis] = await Promise.all([freshDatabase('dash'), useRedis()])
    f = await openApi(url, redis.url, {}, { alerts: true })
    base = (await f.listen()).url
    const now = Math.floor(Date.now() / 1000)
    await postReadings(
      base,
      Array.from({ length: FLEET }, (_, i) => ({ sensor_id: `fleet-${i + 1}`, value: Math.round(Math.sin(i) * 1000) / 10, timestamp: now - (i % 600) }))
    )
    // A week of history for the charted sensor, one reading every 5 minutes, none in the last 10.
    const week = Array.from({ length: 2016 }, (_, i) => ({ sensor_id: 'chart-me', value: 20 + 5 * Math.sin(i / 30), timestamp: now - 600 - i * 300 }))
    await postReadings(base, week)
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    mkdirSync(RESULTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await f?.close()
  })

  test('loads, lists 10,001 sensors with only the visible rows rendered', async () => {
    const started = Date.now()
    await page.goto(`${base}/?sensor=chart-me`)
    await page.waitForFunction("document.querySelectorAll('#list-rows .row').length > 0")
    await page.waitForFunction("document.getElementById('count')?.textContent === '10,001'")
    const loadedMs = Date.now() - started
    const rows = await page.locator('#list-rows .row').count()
    assert.ok(rows > 10 && rows < 100, `${rows} rows in the DOM`)
    await page.waitForFunction("document.getElementById('connection')?.textContent === 'live'")
    await page.waitForFunction("document.querySelector('#deps .pill-ok')?.textContent?.startsWith('postgres')")
    assert.match((await page.locator('#chart-sub').textContent()) ?? '', /readings · \d+ s buckets · live/)
    const listedAt = await page.evaluate<number>('window.sensorstream.listedAt')
    console.log(`dashboard: 10,001 sensors listed ${Math.round(listedAt)} ms after navigation started (page's clock), ${loadedMs} ms as the test saw it`)
    // Scrolling far renders the rows there, still only a window of them.
    await page.locator('#list').evaluate((el) => (el as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 9000 * 36))
    await page.waitForFunction("[...document.querySelectorAll('#list-rows .row .id')].some((e) => e.textContent === 'fleet-9000')")
    assert.ok((await page.locator('#list-rows .row').count()) < 100)
  })

  test('a firing alert shows in the alerts panel, live, and goes when it resolves', async () => {
    const alerting = f.alerting
    assert.ok(alerting !== undefined)
    const created = await fetch(`${base}/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'too hot', sensor_id: 'fleet-7', above: 1000 })
    })
    assert.equal(created.status, 201)
    // the streaming service's evaluator, publishing on the API's alert feed
    const evaluator = new AlertEvaluator({ rules: alerting.rules, store: alerting.alerts, feed: alerting.alertFeed, logger })
    const t = Date.now() / 1000
    await evaluator.evaluate([{ sensor_id: 'fleet-7', value: 2000, timestamp: t }])
    await page.waitForFunction("document.querySelector('#alerts .alert-row')?.dataset.sensor === 'fleet-7'", undefined, { timeout: 5000 })
    assert.match((await page.locator('#alerts .alert-row').first().textContent()) ?? '', /too hot/)
    assert.equal(await page.locator('#alerts-count').textContent(), '1')
    await evaluator.evaluate([{ sensor_id: 'fleet-7', value: 0, timestamp: t + 1 }])
    await page.waitForFunction("document.querySelectorAll('#alerts .alert-row').length === 0", undefined, { timeout: 5000 })
  })

  test('a POST /data shows up in the table and in the chart within a second', async () => {
    await page.fill('#search', 'chart-*')
    await page.waitForFunction("document.getElementById('shown')?.textContent === '1 of 10,001'")
    const posted = Date.now()
    await postReadings(base, { sensor_id: 'chart-me', value: 1234.5, timestamp: posted / 1000 })
    await page.waitForFunction("document.querySelector('#list-rows .row .value')?.textContent === '1,234.5'", undefined, { timeout: 1000 })
    await page.waitForFunction('window.sensorstream.chart.plot.data[3]?.at(-1) === 1234.5', undefined, { timeout: Math.max(1, 1000 - (Date.now() - posted)) })
    console.log(`dashboard: a posted reading was in the table and the chart ${Date.now() - posted} ms after POST /data`)
    await page.screenshot({ path: `${RESULTS}/dashboard-live.png` })
  })

  let weekBucket = 0

  test('a range change draws the series of that range', async () => {
    await page.fill('#search', '')
    await page.click('#ranges button[data-range="604800"]')
    // GET /sensors/:id/series picks the width (whole minutes here, so the 1-minute rollups answer)
    await page.waitForFunction("/^[\\d,]+ readings · \\d+ min buckets/.test(document.getElementById('chart-sub')?.textContent ?? '')")
    const points = await page.evaluate<number>('window.sensorstream.chart.plot.data[0]?.length ?? 0')
    assert.ok(points > 300 && points <= 600, `${points} buckets drawn (the chart asks for at most 600)`)
    weekBucket = await page.evaluate<number>('window.sensorstream.chart.bucketSeconds')
    await page.screenshot({ path: `${RESULTS}/dashboard-desktop.png` })
  })

  test('dragging across the chart zooms in and fetches that finer range', async () => {
    const over = await page.locator('#chart .u-over').boundingBox()
    assert.ok(over !== null)
    // The middle fifth of 7 days: about a day and a half, so buckets about five times finer.
    await page.mouse.move(over.x + over.width * 0.4, over.y + over.height / 2)
    await page.mouse.down()
    await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2, { steps: 5 })
    await page.mouse.up()
    await page.waitForFunction("/readings · \\d+ (s|min) buckets · zoomed$/.test(document.getElementById('chart-sub')?.textContent ?? '')")
    const bucket = await page.evaluate<number>('window.sensorstream.chart.bucketSeconds')
    assert.ok(bucket * 3 < weekBucket, `zoomed buckets (${bucket} s) much finer than the week's (${weekBucket} s)`)
    await page.click('#ranges button[data-range="604800"]')
    await page.waitForFunction("/min buckets · live$/.test(document.getElementById('chart-sub')?.textContent ?? '')")
  })

  test('a phone-sized screen gets the one-column layout', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.waitForTimeout(300)
    const [list, chart] = await Promise.all([page.locator('.list-panel').boundingBox(), page.locator('.chart-panel').boundingBox()])
    assert.ok(list !== null && chart !== null)
    assert.ok(chart.y >= list.y + list.height, 'the chart comes below the list')
    assert.ok(list.width <= 390 && chart.width <= 390, 'nothing wider than the screen')
    await page.screenshot({ path: `${RESULTS}/dashboard-phone.png`, fullPage: true })
  })

  test('no console error or warning on the way', () => {
    assert.deepEqual(problems, [])
  })
})
