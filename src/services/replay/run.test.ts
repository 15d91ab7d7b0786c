import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import type { Reading } from '../../domain/reading.ts'
import { AppError } from '../../platform/errors.ts'
import { createLogger } from '../../platform/logger.ts'
import type { BusRecord } from '../../ports/bus.ts'
import type { BusReader, PartitionRange } from '../../ports/bus-reader.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { parsePosition, parseReplayArgs } from './args.ts'
import { planReplay, progressLine, runReplay, summaryLines, type ReplaySummary } from './run.ts'

const configInvalid = (pattern: RegExp) => (err: unknown) => err instanceof AppError && err.code === 'CONFIG_INVALID' && pattern.test(err.message)

test('--from and --to take an offset or an RFC 3339 time with a zone', () => {
  assert.deepEqual(parsePosition('from', '42'), { kind: 'offset', offset: 42n })
  assert.deepEqual(parsePosition('from', '2026-01-31T12:00:00.5Z'), { kind: 'time', timestampMs: Date.UTC(2026, 0, 31, 12, 0, 0, 500) })
  assert.deepEqual(parsePosition('to', '2026-01-31T13:00:00+01:00'), { kind: 'time', timestampMs: Date.UTC(2026, 0, 31, 12) })
  for (const bad of ['-1', '2026-01-31', '2026-01-31T12:00:00', 'yesterday', '1e3', '2026-02-30T12:00:00Z']) {
    assert.throws(() => parsePosition('from', bad), configInvalid(/--from/), bad)
  }
})

test('replay arguments: --from required, partitions repeated or comma-separated', () => {
  assert.deepEqual(parseReplayArgs(['--from', '0', '--partition', '2,0', '--partition', '2']), { from: { kind: 'offset', offset: 0n }, partitions: [0, 2] })
  assert.throws(() => parseReplayArgs([]), configInvalid(/--from is required/))
  assert.throws(() => parseReplayArgs(['--from', '0', '--partition', 'x']), configInvalid(/--partition "x"/))
  assert.throws(() => parseReplayArgs(['--from', '0', '--nope']), configInvalid(/nope/))
})

function fakeReader(forTime: Map<number, bigint>): BusReader {
  return {
    connect: async () => {},
    close: async () => {},
    offsets: async () => [
      { partition: 0, start: 0n, end: 100n },
      { partition: 1, start: 50n, end: 80n },
      { partition: 2, start: 0n, end: 0n }
    ],
    offsetsForTime: async () => forTime,
    // eslint-disable-next-line require-yield
    read: async function* () {
      throw new Error('not read in this test')
    }
  }
}

test('a plan clamps each partition to what the topic holds and to the end offsets at the start', async () => {
  const reader = fakeReader(
    new Map([
      [0, 60n],
      [1, 80n],
      [2, 0n]
    ])
  )
  const plan = (args: string[]): Promise<PartitionRange[]> => planReplay(reader, 't', parseReplayArgs(args))
  assert.deepEqual(await plan(['--from', '10']), [
    { partition: 0, from: 10n, to: 100n },
    { partition: 1, from: 50n, to: 80n },
    { partition: 2, from: 0n, to: 0n }
  ])
  assert.deepEqual(await plan(['--from', '0', '--to', '2026-01-01T00:00:00Z', '--partition', '0,1']), [
    { partition: 0, from: 0n, to: 60n },
    { partition: 1, from: 50n, to: 80n }
  ])
  assert.deepEqual(await plan(['--from', '2026-01-01T00:00:00Z', '--to', '70', '--partition', '1']), [{ partition: 1, from: 70n, to: 70n }])
  await assert.rejects(plan(['--from', '0', '--partition', '3']), configInvalid(/partitions 0 to 2/))
})

test('progress and summary lines', () => {
  const s: ReplaySummary = {
    ranges: [
      { partition: 0, from: 0n, to: 300n },
      { partition: 2, from: 5n, to: 105n }
    ],
    offsets: 400n,
    done: 100n,
    read: 100,
    stored: 7,
    duplicates: 90,
    invalid: 3,
    complete: false,
    seconds: 2.25
  }
  assert.equal(progressLine(s), 'replay: 2 partitions, offsets 100/400 (25%), read 100, stored 7, duplicates 90, invalid 3')
  assert.equal(
    summaryLines({ ...s, complete: true }),
    'replay finished in 2.3 s: read 100, stored new 7, duplicates 90, invalid 3\n  partition 0: offsets 0 to 300\n  partition 2: offsets 5 to 105\n'
  )
  assert.match(summaryLines(s), /^replay stopped before its end/)
})

/** First write wins, in memory. */
function memoryStore(): ReadingStore & { readonly rows: Map<string, Reading> } {
  const rows = new Map<string, Reading>()
  const write = async (readings: readonly Reading[]): Promise<{ inserted: number; duplicates: number }> => {
    let inserted = 0
    for (const r of readings) {
      const key = `${r.sensor_id}@${r.timestamp}`
      if (!rows.has(key)) {
        rows.set(key, r)
        inserted++
      }
    }
    return { inserted, duplicates: readings.length - inserted }
  }
  return {
    rows,
    connect: async () => {},
    close: async () => {},
    ping: async () => {},
    write,
    writeReturningNew: async () => [],
    latestOf: async () => [],
    latestOfAll: async () => []
  }
}

test('a replay goes through the ingest path: progress while it runs, then stored, duplicates and invalid', async () => {
  const value = (i: number): Buffer =>
    Buffer.from(i % 10 === 9 ? 'not json' : JSON.stringify({ sensor_id: `s${i % 3}`, value: i, timestamp: 1_700_000_000 + i }))
  const records: BusRecord[] = Array.from({ length: 30 }, (_, i) => ({
    topic: 't',
    partition: 0,
    offset: BigInt(i),
    key: null,
    value: value(i),
    timestampMs: 0,
    headers: new Map()
  }))
  const reader: BusReader = {
    ...fakeReader(new Map()),
    offsets: async () => [{ partition: 0, start: 0n, end: 30n }],
    read: async function* (_topic, ranges, options) {
      const from = Number(ranges[0]?.from ?? 0)
      for (let i = from; i < 30 && options.signal?.aborted !== true; i += options.maxBatchRecords) {
        await sleep(40)
        yield records.slice(i, i + options.maxBatchRecords)
      }
    }
  }
  const store = memoryStore()
  const latest = new MemoryLatestValues()
  const progress: string[] = []
  const options = { topic: 't', batchMaxRows: 10, progressEveryMs: 15, progress: (l: string) => progress.push(l), signal: new AbortController().signal }
  const deps = { reader, store, latest, logger: createLogger('silent') }
  const first = await runReplay(deps, parseReplayArgs(['--from', '10']), options)
  assert.deepEqual(
    { ...first, seconds: 0 },
    { ranges: [{ partition: 0, from: 10n, to: 30n }], offsets: 20n, done: 20n, read: 20, stored: 18, duplicates: 0, invalid: 2, complete: true, seconds: 0 }
  )
  assert.ok(progress.length >= 2, progress.join('\n'))
  assert.match(progress.at(-1) ?? '', /^replay: 1 partitions, offsets \d+\/20 \(\d+(\.\d)?%\), read \d+, stored \d+, duplicates 0, invalid \d+$/)
  assert.equal((await latest.get('s2'))?.timestamp, 1_700_000_000 + 26)

  const again = await runReplay(deps, parseReplayArgs(['--from', '0']), options)
  assert.deepEqual([again.read, again.stored, again.duplicates, again.invalid], [30, 9, 18, 3])
  assert.equal(store.rows.size, 27)
  assert.equal((await latest.get('s2'))?.timestamp, 1_700_000_000 + 26, 'the latest value did not go backwards')
})

test('a replay stopped early says so and counts what it stored', async () => {
  const value = (i: number): Buffer => Buffer.from(JSON.stringify({ sensor_id: 's', value: i, timestamp: 1_700_000_000 + i }))
  const records: BusRecord[] = Array.from({ length: 30 }, (_, i) => ({
    topic: 't',
    partition: 0,
    offset: BigInt(i),
    key: null,
    value: value(i),
    timestampMs: 0,
    headers: new Map()
  }))
  const stop = new AbortController()
  const reader: BusReader = {
    ...fakeReader(new Map()),
    offsets: async () => [{ partition: 0, start: 0n, end: 30n }],
    read: async function* (_topic, _ranges, options) {
      for (let i = 0; i < 30 && options.signal?.aborted !== true; i += 10) {
        yield records.slice(i, i + 10)
        stop.abort()
      }
    }
  }
  const options = { topic: 't', batchMaxRows: 10, progressEveryMs: 1_000, progress: () => {}, signal: stop.signal }
  const s = await runReplay(
    { reader, store: memoryStore(), latest: new MemoryLatestValues(), logger: createLogger('silent') },
    parseReplayArgs(['--from', '0']),
    options
  )
  assert.deepEqual([s.complete, s.read, s.stored, s.done, s.offsets], [false, 10, 10, 10n, 30n])
  assert.match(summaryLines(s), /^replay stopped before its end in [\d.]+ s: read 10, stored new 10/)
})
