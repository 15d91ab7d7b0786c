import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AppError } from '../../platform/errors.ts'
import type { BusRecord } from '../../ports/bus.ts'
import { DEFAULT_LIST_LIMIT, parseDlqArgs, parseWhere } from './args.ts'
import { matches, original, toDeadLetter } from './dead-letters.ts'

const configInvalid = (pattern: RegExp) => (err: unknown) => err instanceof AppError && err.code === 'CONFIG_INVALID' && pattern.test(err.message)

test('dlq arguments', () => {
  assert.deepEqual(parseDlqArgs(['list']), { command: 'list', where: [], limit: DEFAULT_LIST_LIMIT })
  const replay = parseDlqArgs(['replay', '--where', 'error~too (large|big)', '--dry-run'])
  assert.equal(replay.command, 'replay')
  assert.equal(replay.command === 'replay' && replay.dryRun, true)
  assert.equal(replay.where[0]?.field, 'error')
  assert.throws(() => parseDlqArgs([]), configInvalid(/missing subcommand/))
  assert.throws(() => parseDlqArgs(['send']), configInvalid(/unknown subcommand "send"/))
  assert.throws(() => parseDlqArgs(['list', '--limit', '0']), configInvalid(/--limit "0"/))
  assert.throws(() => parseDlqArgs(['list', '--limit', '2x']), configInvalid(/--limit "2x"/))
  assert.throws(() => parseDlqArgs(['list', '--dry-run']), configInvalid(/--dry-run belongs/))
  assert.throws(() => parseWhere('error=x'), configInvalid(/FIELD~REGEX/))
  assert.throws(() => parseWhere('colour~x'), configInvalid(/FIELD~REGEX/))
  assert.throws(() => parseWhere('error~('), configInvalid(/--where "error~\("/))
})

const record: BusRecord = {
  topic: 'r.dlq',
  partition: 1,
  offset: 7n,
  key: Buffer.from('sensor-1'),
  value: Buffer.from('{"sensor_id":"sensor-1"}'),
  timestampMs: 1_700_000_000_000,
  headers: new Map([
    ['trace', 'abc'],
    ['dlq-error', 'value: required'],
    ['dlq-source-topic', 'r'],
    ['dlq-source-partition', '2'],
    ['dlq-source-offset', '41']
  ])
}

test('a dead letter: its origin, --where matching, and the original record without dlq-* headers', () => {
  const letter = toDeadLetter(record)
  assert.equal(letter.source, 'r/2/41')
  assert.equal(letter.error, 'value: required')
  assert.equal(matches(letter, [parseWhere('error~^value'), parseWhere('key~sensor-1')]), true)
  assert.equal(matches(letter, [parseWhere('error~^value'), parseWhere('source~^other/')]), false)
  assert.deepEqual(original(letter, 'r'), { topic: 'r', key: record.key, value: record.value, timestampMs: record.timestampMs, headers: { trace: 'abc' } })
})
