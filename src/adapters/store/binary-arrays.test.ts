// The binary array format byte by byte; the store contract checks that Postgres reads it back exactly.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { binaryColumns } from './binary-arrays.ts'

const header = (oid: number, length: number): number[] => [0, 0, 0, 1, 0, 0, 0, 0, ...int32(oid), ...int32(length), 0, 0, 0, 1]
const int32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]

test('two readings: text[], float8[] and timestamptz[] in the binary wire format', () => {
  const [ids, values, timestamps] = binaryColumns([
    { sensor_id: 'a', value: 1.5, timestamp: 946_684_800.001 },
    { sensor_id: 'sensor-2', value: -2, timestamp: 1_689_260_000.123 }
  ])
  assert.deepEqual([...ids], [...header(25, 2), ...int32(1), 97, ...int32(8), ...Buffer.from('sensor-2')])

  const float8 = (v: number): number[] => {
    const b = Buffer.alloc(8)
    b.writeDoubleBE(v)
    return [...int32(8), ...b]
  }
  assert.deepEqual([...values], [...header(701, 2), ...float8(1.5), ...float8(-2)])

  // microseconds since 2000-01-01: 1 ms after it, and 2023-07-13T14:53:20.123Z
  const int8 = (micros: bigint): number[] => {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(micros)
    return [...int32(8), ...b]
  }
  assert.deepEqual([...timestamps], [...header(1184, 2), ...int8(1_000n), ...int8((1_689_260_000_123n - 946_684_800_000n) * 1_000n)])
})

test('an empty batch is an empty array of each type', () => {
  const [ids, values, timestamps] = binaryColumns([])
  assert.deepEqual([...ids], header(25, 0))
  assert.deepEqual([...values], header(701, 0))
  assert.deepEqual([...timestamps], header(1184, 0))
})

test('a timestamp before 2000 (negative microseconds) is written in two’s complement', () => {
  const [, , timestamps] = binaryColumns([{ sensor_id: 'a', value: 0, timestamp: 946_684_799.999 }])
  assert.equal(timestamps.readBigInt64BE(24), -1_000n)
})
