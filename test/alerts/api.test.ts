// /rules and /alerts on a real Postgres and Redis: CRUD, validation errors in the API's error shape,
// paging, the OpenAPI document, and GET /alerts after an evaluation.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { RedisAlertFeed } from '../../src/adapters/feed/redis-alert-feed.ts'
import { buildApp } from '../../src/services/api/app.ts'
import { createMetricsRegistry } from '../../src/platform/metrics.ts'
import { freshDatabase, uniqueName, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from '../api/setup.ts'
import { openSse, openWs, until } from '../live/clients.ts'
import { logger, openInstance, type Instance } from './support.ts'

let f: ApiFixture
let app: FastifyInstance
let streaming: Instance
let feed: RedisAlertFeed
let publisher: RedisAlertFeed

before(async () => {
  const url = await freshDatabase('alerts-api')
  const redis = await useRedis()
  f = await openApi(url, redis.url)
  const keyPrefix = `${uniqueName('alerts')}:`
  feed = new RedisAlertFeed({ url: redis.url, keyPrefix, logger })
  publisher = new RedisAlertFeed({ url: redis.url, keyPrefix, logger })
  await feed.connect()
  await publisher.connect()
  streaming = await openInstance(url, publisher)
  app = await buildApp({
    store: f.store,
    queries: f.queries,
    latest: f.latest,
    live: f.live,
    status: f.status,
    rules: streaming.rules,
    alerts: streaming.alerts,
    alertFeed: feed,
    registry: createMetricsRegistry('api'),
    config: f.config,
    logger
  })
})
after(async () => {
  await app.close()
  await feed.close()
  await publisher.close()
  await streaming.close()
  await f.close()
})

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/rules', payload: payload as object })

test('POST, GET, PUT and DELETE /rules; the webhook secret is never shown', async () => {
  const created = await post({ sensor_id: 'line-4.*', above: 80, hysteresis: 2, for: 30, webhook_url: 'https://example.test/hook', webhook_secret: 'k' })
  assert.equal(created.statusCode, 201, created.body)
  const rule = created.json()
  assert.equal(created.headers['location'], `/rules/${rule.id}`)
  assert.deepEqual(
    { ...rule, id: 0, created_at: 0, updated_at: 0 },
    {
      id: 0,
      name: 'line-4.* above 80',
      sensor_id: 'line-4.*',
      above: 80,
      hysteresis: 2,
      for: 30,
      webhook_url: 'https://example.test/hook',
      webhook_secret: true,
      created_at: 0,
      updated_at: 0
    }
  )
  assert.deepEqual((await app.inject(`/rules/${rule.id}`)).json(), rule)
  const put = await app.inject({ method: 'PUT', url: `/rules/${rule.id}`, payload: { name: 'quiet pump', sensor_id: 'pump-1', no_data: 60 } })
  assert.equal(put.statusCode, 200, put.body)
  assert.equal(put.json().no_data, 60)
  assert.equal(put.json().above, undefined)
  assert.equal((await app.inject({ method: 'DELETE', url: `/rules/${rule.id}` })).statusCode, 204)
  const gone = await app.inject(`/rules/${rule.id}`)
  assert.equal(gone.statusCode, 404)
  assert.equal(gone.json().error, 'NOT_FOUND')
  assert.equal((await app.inject({ method: 'DELETE', url: `/rules/${rule.id}` })).statusCode, 404)
})

test('GET /rules is paged with a Link header', async () => {
  const ids: number[] = []
  for (let i = 0; i < 3; i++) ids.push((await post({ sensor_id: `page-${i}`, below: i })).json().id)
  const first = await app.inject('/rules?limit=2')
  assert.equal(first.statusCode, 200)
  const link = /<([^>]+)>; rel="next"/.exec(String(first.headers['link']))?.[1]
  assert.ok(link !== undefined, 'a next link')
  const rest = await app.inject(link)
  const seen = [...first.json(), ...rest.json()].map((r: { id: number }) => r.id)
  for (const id of ids) assert.ok(seen.includes(id))
})

test('invalid rules get 400 VALIDATION_FAILED naming each bad field', async () => {
  const cases: [unknown, string][] = [
    [{ above: 1 }, '/sensor_id'],
    [{ sensor_id: 'bad id!', above: 1 }, '/sensor_id'],
    [{ sensor_id: 'a' }, '/'],
    [{ sensor_id: 'a', above: 1, below: 2 }, '/'],
    [{ sensor_id: 'a', above: 1, hysteresis: -1 }, '/hysteresis'],
    [{ sensor_id: 'a', no_data: 0 }, '/no_data'],
    [{ sensor_id: 'a', no_data: 5, for: 3 }, '/for'],
    [{ sensor_id: 'a', above: 1, webhook_url: 'ftp://x' }, '/webhook_url'],
    [{ sensor_id: 'a', above: 1, webhook_secret: 'k' }, '/webhook_secret'],
    [{ sensor_id: 'a', above: 1, colour: 'red' }, '/colour']
  ]
  for (const [body, path] of cases) {
    const res = await post(body)
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`)
    const error = res.json()
    assert.equal(error.error, 'VALIDATION_FAILED')
    assert.equal(typeof error.message, 'string')
    assert.ok(
      error.details.some((d: { path: string }) => d.path === path),
      `${JSON.stringify(body)}: ${res.body}`
    )
  }
  assert.equal((await app.inject('/rules/0')).statusCode, 400)
  assert.equal((await app.inject('/alerts?state=burning')).statusCode, 400)
})

test('GET /alerts and /alerts/events show what an evaluation did', async () => {
  const rule = (await post({ sensor_id: 'oven', above: 200 })).json()
  const t = Date.now() / 1000 - 10
  await streaming.evaluator.reload()
  await streaming.evaluator.evaluate([{ sensor_id: 'oven', value: 250, timestamp: t }])
  const firing = (await app.inject(`/alerts?state=firing&rule_id=${rule.id}`)).json()
  assert.deepEqual(
    firing.map((a: { sensor_id: string; state: string; episode: number }) => [a.sensor_id, a.state, a.episode]),
    [['oven', 'firing', 1]]
  )
  await streaming.evaluator.evaluate([{ sensor_id: 'oven', value: 100, timestamp: t + 1 }])
  const events = (await app.inject(`/alerts/events?sensor_id=oven`)).json()
  assert.deepEqual(
    events.map((e: { kind: string; value: number; rule_name: string }) => [e.kind, e.value, e.rule_name]),
    [
      ['resolved', 100, 'oven above 200'],
      ['firing', 250, 'oven above 200']
    ]
  )
  assert.equal((await app.inject(`/alerts?state=firing&rule_id=${rule.id}`)).json().length, 0)
})

test('GET /openapi.json validates and lists the alert routes', async () => {
  const doc = (await app.inject('/openapi.json')).json()
  const result = await new Validator().validate(doc)
  assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2))
  const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)
  )
  for (const route of ['POST /rules', 'GET /rules', 'GET /rules/{id}', 'PUT /rules/{id}', 'DELETE /rules/{id}', 'GET /alerts', 'GET /alerts/events'])
    assert.ok(listed.includes(route), route)
})

test('alert events reach the live stream: SSE `event: alert` and WebSocket `{"type":"alert"}`, for the sensors asked for', async () => {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${address.port}`
  const sse = await openSse(`${base}/stream?sensor_id=kiln-*`)
  const ws = await openWs(`ws://127.0.0.1:${address.port}/ws?sensor_id=kiln-1`)
  try {
    await until('the WebSocket subscribed', () => ws.messages.some((m) => m['type'] === 'subscribed'))
    await new Promise((r) => setTimeout(r, 200)) // both joined the alert feed
    await post({ sensor_id: 'kiln-*', above: 1000 })
    await post({ sensor_id: 'dryer', above: 10 })
    await streaming.evaluator.reload()
    const t = Date.now() / 1000 - 5
    await streaming.evaluator.evaluate([
      { sensor_id: 'dryer', value: 50, timestamp: t },
      { sensor_id: 'kiln-1', value: 1200, timestamp: t }
    ])
    const sseAlert = await until('an SSE alert', () => sse.events.find((e) => e.event === 'alert'))
    assert.equal(sseAlert.id, undefined, 'alert events carry no id: resuming is for readings')
    assert.deepEqual((({ sensor_id, kind, value, episode }) => ({ sensor_id, kind, value, episode }))(JSON.parse(sseAlert.data)), {
      sensor_id: 'kiln-1',
      kind: 'firing',
      value: 1200,
      episode: 1
    })
    const wsAlert = await until('a WebSocket alert', () => ws.messages.find((m) => m['type'] === 'alert'))
    assert.equal((wsAlert['alert'] as { sensor_id: string }).sensor_id, 'kiln-1')
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(sse.events.filter((e) => e.event === 'alert').length, 1, 'not the dryer')
    assert.equal(ws.messages.filter((m) => m['type'] === 'alert').length, 1, 'not the dryer')
  } finally {
    sse.close()
    ws.close()
  }
})
