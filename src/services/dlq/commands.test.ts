import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BusPublisher, BusRecord, OutgoingRecord } from '../../ports/bus.ts'
import type { BusReader } from '../../ports/bus-reader.ts'
import { deadLetterKey, type DeadLetterId, type DeadLetterLedger } from '../../ports/dlq-ledger.ts'
import { parseWhere } from './args.ts'
import { listDeadLetters, replayDeadLetters } from './commands.ts'

function letter(offset: number, error: string, extra: Record<string, string> = {}): BusRecord {
  return {
    topic: 'r.dlq',
    partition: 0,
    offset: BigInt(offset),
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(`v\t${offset}`),
    timestampMs: 1_000 + offset,
    headers: new Map(
      Object.entries({
        origin: 'x',
        'dlq-error': error,
        'dlq-source-topic': 'r',
        'dlq-source-partition': '0',
        'dlq-source-offset': String(100 + offset),
        ...extra
      })
    )
  }
}

const records = [
  letter(0, 'timestamp: bad'),
  letter(1, 'value: required'),
  letter(2, 'timestamp: bad', { 'dlq-truncated': 'value' }),
  letter(3, 'timestamp: bad')
]

const reader: BusReader = {
  connect: async () => {},
  close: async () => {},
  offsets: async () => [{ partition: 0, start: 0n, end: BigInt(records.length) }],
  offsetsForTime: async () => new Map(),
  read: async function* (_topic, ranges, options) {
    const [range] = ranges
    const wanted = records.filter((r) => range !== undefined && r.offset >= range.from && r.offset < range.to)
    for (let i = 0; i < wanted.length; i += options.maxBatchRecords) yield wanted.slice(i, i + options.maxBatchRecords)
  }
}

/** The ledger's contract in memory: claims and records at once when send resolves. */
function memoryLedger(): DeadLetterLedger & { readonly done: Map<string, Date> } {
  const done = new Map<string, Date>()
  return {
    done,
    connect: async () => {},
    close: async () => {},
    migrate: async () => {},
    replayed: async (ids) => new Map(ids.flatMap((id) => (done.has(deadLetterKey(id)) ? [[deadLetterKey(id), done.get(deadLetterKey(id)) as Date]] : []))),
    resendOnce: async (ids, send) => {
      const claimed: DeadLetterId[] = ids.filter((id) => !done.has(deadLetterKey(id)))
      await send(claimed)
      for (const id of claimed) done.set(deadLetterKey(id), new Date(0))
      return claimed
    }
  }
}

function publisher(): BusPublisher & { readonly sent: OutgoingRecord[] } {
  const sent: OutgoingRecord[] = []
  return { sent, connect: async () => {}, close: async () => {}, publish: async (r) => void sent.push(...r), maxRecordBytes: async () => 1_048_588 }
}

const topics = { dlqTopic: 'r.dlq', topic: 'r' }
const signal = new AbortController().signal

test('dlq replay re-sends matching dead letters once, as they were sent, never one that was cut', async () => {
  const ledger = memoryLedger()
  const bus = publisher()
  const lines: string[] = []
  const where = [parseWhere('error~^timestamp')]
  const dry = await replayDeadLetters({ reader, publisher: bus, ledger }, topics, { where, dryRun: true }, (l) => lines.push(l), signal)
  assert.deepEqual(dry, { matching: 3, sent: 2, skipped: 0, cut: 1 })
  assert.equal(bus.sent.length, 0)
  assert.equal(ledger.done.size, 0)

  const first = await replayDeadLetters({ reader, publisher: bus, ledger }, topics, { where, dryRun: false }, (l) => lines.push(l), signal)
  assert.deepEqual(first, { matching: 3, sent: 2, skipped: 0, cut: 1 })
  assert.deepEqual(bus.sent, [
    { topic: 'r', key: Buffer.from('k0'), value: Buffer.from('v\t0'), timestampMs: 1_000, headers: { origin: 'x' } },
    { topic: 'r', key: Buffer.from('k3'), value: Buffer.from('v\t3'), timestampMs: 1_003, headers: { origin: 'x' } }
  ])
  const second = await replayDeadLetters({ reader, publisher: bus, ledger }, topics, { where: [], dryRun: false }, (l) => lines.push(l), signal)
  assert.deepEqual(second, { matching: 4, sent: 1, skipped: 2, cut: 1 })
  assert.equal(bus.sent.length, 3)
  assert.ok(
    lines.includes('re-sent 1 of 4 matching dead letters to r; 2 already re-sent before; 1 not re-sendable (cut to fit the dead-letter topic)'),
    lines.join('\n')
  )
})

test('dlq list: a table with escaped cells, the first N matching, and whether each was re-sent', async () => {
  const ledger = memoryLedger()
  ledger.done.set('r.dlq:0:1', new Date(Date.UTC(2026, 0, 1)))
  const lines: string[] = []
  const result = await listDeadLetters({ reader, ledger }, topics, { where: [], limit: 3 }, (l) => lines.push(l), signal)
  assert.deepEqual(result, { total: 4, matching: 4, shown: 3 })
  assert.deepEqual(lines, [
    'partition\toffset\tsource\terror\tkey\tvalue\treplayed',
    '0\t0\tr/0/100\ttimestamp: bad\tk0\tv\\t0\t-',
    '0\t1\tr/0/101\tvalue: required\tk1\tv\\t1\t2026-01-01T00:00:00.000Z',
    '0\t2\tr/0/102\ttimestamp: bad [cut to fit: value]\tk2\tv\\t2\t-',
    '3 shown; 4 matching of 4 dead letters in r.dlq'
  ])
})
