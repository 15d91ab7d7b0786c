// reading.v1 on the bus: decoding what any Kafka client may send, and encoding what the producer sends.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Reading } from './reading.ts'
import { WIRE_FORMAT, decodeReading, encodeReading, type Decoded } from './wire.ts'

const NOW = 1_700_000_000
/** Kafka record time in epoch milliseconds */
const RECORD_MS = 1_689_260_000_123
const TS = 1_689_260_000
const base = { sensor_id: 'sensor-123', value: 42.5, timestamp: TS }

function ok(value: Uint8Array | string | null | undefined, recordMs = RECORD_MS): Reading {
  const decoded = decodeReading(value, recordMs, NOW)
  assert.ok(decoded.ok, `expected a reading, got error: ${decoded.ok ? '' : decoded.error}`)
  return decoded.reading
}

function fails(value: Uint8Array | string | null | undefined, pattern: RegExp): string {
  let decoded: Decoded | undefined
  assert.doesNotThrow(() => {
    decoded = decodeReading(value, RECORD_MS, NOW)
  })
  assert.ok(decoded !== undefined)
  assert.equal(decoded.ok, false, 'expected an error')
  if (decoded.ok) throw new Error('unreachable')
  assert.match(decoded.error, pattern)
  return decoded.error
}

const json = (v: unknown): string => JSON.stringify(v)

describe('decodeReading: valid messages', () => {
  test('a JSON string', () => {
    assert.deepEqual(ok(json(base)), base)
  })

  test('UTF-8 bytes (Buffer)', () => {
    assert.deepEqual(ok(Buffer.from(json(base))), base)
  })

  test('a Uint8Array view into a larger buffer decodes only its own bytes', () => {
    const payload = Buffer.from(json(base))
    const big = new Uint8Array(payload.length + 20).fill(0x20)
    big.set(payload, 10)
    assert.deepEqual(ok(big.subarray(10, 10 + payload.length)), base)
  })

  test('surrounding JSON whitespace is allowed', () => {
    assert.deepEqual(ok(`\n  ${json(base)}\r\n\t`), base)
  })

  test('unknown extra fields are ignored', () => {
    const reading = ok(json({ ...base, unit: 'C', meta: { a: [1, { b: null }] }, v: 2 }))
    assert.deepEqual(reading, base)
  })

  test('a missing timestamp takes the Kafka record time (milliseconds → seconds)', () => {
    assert.deepEqual(ok(json({ sensor_id: 'a', value: 1 })), { sensor_id: 'a', value: 1, timestamp: 1_689_260_000.123 })
  })

  test('a null timestamp takes the Kafka record time too', () => {
    assert.equal(ok(json({ ...base, timestamp: null })).timestamp, 1_689_260_000.123)
  })

  test('fractional timestamps are kept to the millisecond', () => {
    assert.equal(ok('{"sensor_id":"a","value":1,"timestamp":1689260000.1234}').timestamp, 1689260000.123)
    assert.equal(ok('{"sensor_id":"a","value":1,"timestamp":1689260000.999}').timestamp, 1689260000.999)
    assert.equal(ok('{"sensor_id":"a","value":1,"timestamp":1.6892600001e9}').timestamp, 1689260000.1)
  })

  test('numbers in any JSON notation', () => {
    assert.equal(ok('{"sensor_id":"a","value":-1.5E+2,"timestamp":1689260000}').value, -150)
    assert.equal(ok('{"sensor_id":"a","value":0,"timestamp":1689260000}').value, 0)
    assert.equal(ok('{"sensor_id":"a","value":1e308,"timestamp":1689260000}').value, 1e308)
  })

  test('a huge message (1 MB of extra field) still decodes', () => {
    const reading = ok(Buffer.from(json({ ...base, padding: 'x'.repeat(1024 * 1024) })))
    assert.deepEqual(reading, base)
  })

  test('escaped characters in sensor_id are decoded before validation', () => {
    assert.equal(ok('{"sensor_id":"sensor\\u002d1","value":1,"timestamp":1689260000}').sensor_id, 'sensor-1')
  })
})

describe('decodeReading: invalid messages never throw and say what is wrong', () => {
  test('empty value, null and undefined', () => {
    fails('', /empty/)
    fails(Buffer.alloc(0), /empty/)
    fails(new Uint8Array(0), /empty/)
    fails(null, /empty/)
    fails(undefined, /empty/)
  })

  test('invalid JSON', () => {
    for (const text of [
      '{',
      '}',
      'not json',
      "{'sensor_id':'a'}",
      '{"sensor_id":"a",}',
      `${json(base)} trailing`,
      `${json(base)}${json(base)}`,
      ' ',
      'undefined'
    ]) {
      fails(text, /not JSON/)
    }
  })

  test('NaN and Infinity literals are not JSON', () => {
    fails('{"sensor_id":"a","value":NaN,"timestamp":1689260000}', /not JSON/)
    fails('{"sensor_id":"a","value":Infinity,"timestamp":1689260000}', /not JSON/)
  })

  test('a number too large for a double (JSON.parse gives Infinity) is rejected at its field', () => {
    fails('{"sensor_id":"a","value":1e400,"timestamp":1689260000}', /^\/value .*finite/)
    fails('{"sensor_id":"a","value":1,"timestamp":1e400}', /^\/timestamp /)
  })

  test('non-UTF-8 bytes are rejected', () => {
    fails(Buffer.from([0xff, 0xfe, 0xfd]), /UTF-8|not JSON/)
    // Latin-1 "é" inside an otherwise valid reading
    const latin1 = Buffer.concat([Buffer.from('{"sensor_id":"caf'), Buffer.from([0xe9]), Buffer.from('","value":1,"timestamp":1689260000}')])
    fails(latin1, /UTF-8|sensor_id/)
    // an overlong encoding and a lone continuation byte in an ignored field
    const hidden = Buffer.concat([Buffer.from('{"sensor_id":"a","value":1,"timestamp":1689260000,"x":"'), Buffer.from([0xc0, 0xaf, 0x80]), Buffer.from('"}')])
    fails(hidden, /UTF-8/)
  })

  test('UTF-16 is not UTF-8', () => {
    fails(Buffer.from(json(base), 'utf16le'), /UTF-8|not JSON/)
  })

  test('JSON null, booleans, numbers and strings are not readings', () => {
    for (const text of ['null', 'true', 'false', '42', '"sensor-123"', '""']) {
      assert.match(fails(text, /object/), /^\/ /)
    }
  })

  test('a top-level array is not a reading (one message, one reading)', () => {
    assert.match(fails(json([base]), /object/), /^\/ /)
    fails('[]', /object/)
  })

  test('every field error names its path', () => {
    assert.match(fails(json({ ...base, sensor_id: '' }), /sensor_id/), /^\/sensor_id /)
    assert.match(fails(json({ ...base, value: '42' }), /value/), /^\/value /)
    assert.match(fails(json({ ...base, timestamp: '1689260000' }), /timestamp/), /^\/timestamp /)
    const all = fails('{}', /sensor_id/)
    assert.match(all, /\/sensor_id .*; \/value .*/)
    // {} without a timestamp takes the record time, so only sensor_id and value are wrong
    assert.doesNotMatch(all, /\/timestamp/)
  })

  test('wrong types', () => {
    fails(json({ ...base, value: '42.5' }), /^\/value /)
    fails(json({ ...base, value: true }), /^\/value /)
    fails(json({ ...base, value: null }), /^\/value /)
    fails(json({ ...base, value: [42.5] }), /^\/value /)
    fails(json({ ...base, value: { v: 42.5 } }), /^\/value /)
    fails(json({ ...base, sensor_id: 123 }), /^\/sensor_id /)
    fails(json({ ...base, sensor_id: ['a'] }), /^\/sensor_id /)
    fails(json({ ...base, sensor_id: { id: 'a' } }), /^\/sensor_id /)
    fails(json({ ...base, timestamp: false }), /^\/timestamp /)
    fails(json({ ...base, timestamp: [TS] }), /^\/timestamp /)
  })

  test('timestamps out of range', () => {
    fails(json({ ...base, timestamp: 946_684_799 }), /^\/timestamp .*2000/)
    fails(json({ ...base, timestamp: TS * 1000 }), /^\/timestamp .*milliseconds/)
    fails(json({ ...base, timestamp: NOW + 86_401 }), /^\/timestamp .*future/)
    assert.equal(ok(json({ ...base, timestamp: NOW + 86_400 })).timestamp, NOW + 86_400)
    assert.equal(ok(json({ ...base, timestamp: 946_684_800 })).timestamp, 946_684_800)
  })

  test('a record time that is itself out of range is rejected at /timestamp', () => {
    const decoded = decodeReading(json({ sensor_id: 'a', value: 1 }), 0, NOW)
    assert.ok(!decoded.ok)
    assert.match(decoded.error, /^\/timestamp /)
  })

  test('unicode and emoji in sensor_id', () => {
    for (const id of ['capteur-é', 'датчик', '传感器', 'sensor-🌡', '😀', 'sensor\u200b1']) {
      fails(Buffer.from(json({ ...base, sensor_id: id })), /^\/sensor_id /)
    }
  })

  test('a huge message with a 1 MB sensor_id is rejected quickly', () => {
    const started = performance.now()
    fails(Buffer.from(json({ ...base, sensor_id: 'x'.repeat(1024 * 1024) })), /^\/sensor_id /)
    assert.ok(performance.now() - started < 1_000)
  })

  test('a deeply nested extra field does not crash the decoder', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const decoded = decodeReading(`{"sensor_id":"a","value":1,"timestamp":1689260000,"x":${deep}}`, RECORD_MS, NOW)
    // JSON.parse may either manage or report a stack overflow; both must come back as a result
    assert.equal(typeof decoded.ok, 'boolean')
  })
})

describe('encodeReading', () => {
  test('writes exactly the three fields of reading.v1', () => {
    assert.equal(WIRE_FORMAT, 'reading.v1')
    const extra = { ...base, unit: 'C' } as Reading
    assert.deepEqual(JSON.parse(encodeReading(extra)), base)
    assert.equal(encodeReading(base), '{"sensor_id":"sensor-123","value":42.5,"timestamp":1689260000}')
  })

  test('round trips through decodeReading, to the millisecond and to the last bit of the value', () => {
    for (const reading of [
      base,
      { sensor_id: 'a', value: 0.1 + 0.2, timestamp: 1689260000.123 },
      { sensor_id: 'AZaz09._:-', value: -1e-300, timestamp: 946_684_800.001 },
      { sensor_id: 'x'.repeat(128), value: Number.MAX_VALUE, timestamp: NOW + 86_400 }
    ]) {
      assert.deepEqual(ok(encodeReading(reading)), reading)
      assert.deepEqual(ok(Buffer.from(encodeReading(reading))), reading)
    }
  })
})
