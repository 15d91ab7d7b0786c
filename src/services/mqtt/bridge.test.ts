// The bridge loop with a scripted source and publisher: a message is acknowledged only after the
// publish that carries it has resolved, never while the bus fails; dead letters carry the topic;
// a stop leaves what was not sent unacknowledged.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AppError } from '../../platform/errors.ts'
import { createLogger } from '../../platform/logger.ts'
import type { BusPublisher, OutgoingRecord } from '../../ports/bus.ts'
import type { MessageSource, SourceMessage } from '../../ports/message-source.ts'
import { runBridge } from './bridge.ts'

const logger = createLogger('silent')
const OPTIONS = { topic: 'readings', dlqTopic: 'readings.dlq', maxBatchMessages: 100, lingerMs: 5 }

class ScriptedSource implements MessageSource {
  readonly capacity = 4
  readonly filters = ['sensors/+/data']
  readonly describe = 'scripted'
  readonly acked: string[] = []
  #onMessage: ((m: SourceMessage) => void) | undefined
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async start(onMessage: (m: SourceMessage) => void): Promise<void> {
    this.#onMessage = onMessage
  }
  send(topic: string, payload: string): void {
    const id = `${topic} ${payload}`
    this.#onMessage?.({ topic, payload: Buffer.from(payload), receivedAtMs: 1_700_000_000_000, ack: () => void this.acked.push(id) })
  }
}

class ScriptedPublisher implements BusPublisher {
  readonly published: OutgoingRecord[][] = []
  failures: number
  constructor(failures = 0) {
    this.failures = failures
  }
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async maxRecordBytes(): Promise<number> {
    return 1_000_000
  }
  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.failures-- > 0) throw new AppError('UNAVAILABLE', 'kafka down', { retryable: true })
    this.published.push([...records])
  }
}

async function eventually(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !probe(); i++) await new Promise((r) => setTimeout(r, 10))
  assert.ok(probe(), what)
}

test('messages are acknowledged only once the publish carrying them resolved, after the bus failed a while', async () => {
  const source = new ScriptedSource()
  const publisher = new ScriptedPublisher(3)
  const stop = new AbortController()
  const running = runBridge({ source, publisher }, OPTIONS, logger, stop.signal)
  await new Promise((r) => setImmediate(r))
  source.send('sensors/s1/data', '{"value":1,"timestamp":1700000000}')
  source.send('sensors/s2/data', '[{"value":2,"timestamp":1700000000},{"value":3,"timestamp":1700000001}]')
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(publisher.published.length, 0, 'the bus is still failing')
  assert.deepEqual(source.acked, [], 'nothing acknowledged while the bus fails')
  await eventually('the batch published and acknowledged', () => source.acked.length === 2)
  assert.equal(publisher.published.length, 1, 'both messages in one send')
  assert.deepEqual(
    publisher.published[0]?.map((r) => [r.topic, r.key, JSON.parse(String(r.value))]),
    [
      ['readings', 's1', { sensor_id: 's1', value: 1, timestamp: 1_700_000_000 }],
      ['readings', 's2', { sensor_id: 's2', value: 2, timestamp: 1_700_000_000 }],
      ['readings', 's2', { sensor_id: 's2', value: 3, timestamp: 1_700_000_001 }]
    ]
  )
  stop.abort()
  assert.deepEqual(await running, { messages: 2, readings: 3, deadLetters: 0 })
})

test('an invalid payload is dead-lettered with its MQTT topic, then acknowledged', async () => {
  const source = new ScriptedSource()
  const publisher = new ScriptedPublisher()
  const stop = new AbortController()
  const running = runBridge({ source, publisher }, OPTIONS, logger, stop.signal)
  await new Promise((r) => setImmediate(r))
  source.send('sensors/s9/data', '{"value":"warm"}')
  await eventually('acknowledged', () => source.acked.length === 1)
  const [letter] = publisher.published[0] ?? []
  assert.equal(letter?.topic, 'readings.dlq')
  assert.equal(letter?.key, 's9')
  assert.equal(letter?.headers?.['dlq-mqtt-topic'], 'sensors/s9/data')
  assert.match(letter?.headers?.['dlq-error'] ?? '', /value must be a finite number/)
  stop.abort()
  assert.equal((await running).deadLetters, 1)
})

test('a stop while the bus is down acknowledges nothing: the broker keeps the messages', async () => {
  const source = new ScriptedSource()
  const publisher = new ScriptedPublisher(Number.POSITIVE_INFINITY)
  const stop = new AbortController()
  const running = runBridge({ source, publisher }, OPTIONS, logger, stop.signal)
  await new Promise((r) => setImmediate(r))
  source.send('sensors/s1/data', '{"value":1}')
  await new Promise((r) => setTimeout(r, 100))
  stop.abort()
  assert.deepEqual(await running, { messages: 0, readings: 0, deadLetters: 0 })
  assert.deepEqual(source.acked, [])
})
