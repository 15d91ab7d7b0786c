// Webhook deliveries on a real Postgres, to a receiver in the test that fails twice then succeeds.
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { freshDatabase } from '../harness/index.ts'
import { deliverOnce } from '../../src/services/streaming/webhooks.ts'
import { logger, openInstance } from './support.ts'

interface Received {
  headers: IncomingMessage['headers']
  body: string
}

test('a receiver that fails twice then succeeds gets the event, every time with the same idempotency key and a valid signature', async (t) => {
  const url = await freshDatabase('alerts')
  const a = await openInstance(url)
  const b = await openInstance(url)
  const received: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      res.writeHead(received.length <= 2 ? 503 : 204).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  t.after(async () => {
    server.close()
    await a.close()
    await b.close()
  })
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  const secret = 's3cret'
  const rule = await a.rules.createRule({
    name: 'hot',
    sensor: 'w',
    kind: 'above',
    threshold: 1,
    hysteresis: 0,
    forSeconds: 0,
    webhookUrl: hook,
    webhookSecret: secret
  })
  const [event] = await a.evaluator.evaluate([{ sensor_id: 'w', value: 5, timestamp: Date.now() / 1000 }])
  assert.ok(event !== undefined)

  const options = { timeoutMs: 2000, maxAttempts: 5, backoffMs: 50 }
  // two instances polling at once: a claimed delivery is not sent twice at the same time
  for (let round = 0; round < 100 && received.length < 3; round++) {
    await Promise.all([deliverOnce(a.alerts, options, logger), deliverOnce(b.alerts, options, logger)])
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.equal(received.length, 3, 'two failures, then the success; nothing after it')
  for (const r of received) {
    assert.equal(r.headers['idempotency-key'], `alert-event-${event.id}`)
    assert.equal(r.headers['x-sensorstream-signature'], `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`)
    assert.equal(r.headers['content-type'], 'application/json')
    const body = JSON.parse(r.body) as Record<string, unknown>
    assert.equal(body['id'], event.id)
    assert.equal(body['rule_id'], rule.id)
    assert.equal(body['kind'], 'firing')
    assert.equal(body['sensor_id'], 'w')
  }
  assert.deepEqual(
    received.map((r) => r.headers['x-sensorstream-attempt']),
    ['1', '2', '3']
  )
  const { rows } = await a.db.pool.query('SELECT attempts, delivered_at IS NOT NULL AS delivered FROM alert_deliveries WHERE event_id = $1', [event.id])
  assert.deepEqual(rows, [{ attempts: 3, delivered: true }])
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(await deliverOnce(a.alerts, options, logger), 0, 'a delivered event is not sent again')
})

test('a receiver that never succeeds is given up after WEBHOOK_MAX_ATTEMPTS', async (t) => {
  const a = await openInstance(await freshDatabase('alerts'))
  let calls = 0
  const server = createServer((_req, res) => {
    calls++
    res.writeHead(500).end()
  })
  server.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  t.after(async () => {
    server.close()
    await a.close()
  })
  await a.rules.createRule({
    name: 'cold',
    sensor: 'x',
    kind: 'below',
    threshold: 0,
    hysteresis: 0,
    forSeconds: 0,
    webhookUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  await a.evaluator.evaluate([{ sensor_id: 'x', value: -1, timestamp: Date.now() / 1000 }])
  const options = { timeoutMs: 1000, maxAttempts: 2, backoffMs: 10 }
  for (let round = 0; round < 50; round++) {
    await deliverOnce(a.alerts, options, logger)
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.equal(calls, 2)
  const { rows } = await a.db.pool.query('SELECT attempts, failed_at IS NOT NULL AS failed, last_error FROM alert_deliveries')
  assert.deepEqual(rows, [{ attempts: 2, failed: true, last_error: 'HTTP 500' }])
})
