// The one validation module, against valid and invalid readings of every kind, and the JSON schema
// it publishes (checked with ajv) against the same cases.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect } from 'node:util'
import { Ajv } from 'ajv'
import {
  MAX_FUTURE_S,
  MIN_TIMESTAMP_S,
  describeErrors,
  newestPerSensor,
  normalizeTimestamp,
  readingSchema,
  validateReading,
  type FieldError,
  type Reading,
  type ValidateOptions
} from './reading.ts'

/** a fixed "now" (2023-11-14T22:13:20Z) so that the future bound is deterministic */
const NOW = 1_700_000_000
const TS = 1_689_260_000

function valid(input: unknown, options: ValidateOptions = {}): Reading {
  const result = validateReading(input, { now: NOW, ...options })
  assert.ok(result.ok, `expected valid, got ${result.ok ? '' : describeErrors(result.errors)}`)
  return result.reading
}

/** Asserts the input is rejected and that exactly the given field paths are named. */
function invalid(input: unknown, paths: string[], options: ValidateOptions = {}): readonly FieldError[] {
  const result = validateReading(input, { now: NOW, ...options })
  assert.equal(result.ok, false, `expected invalid: ${inspect(input, { maxStringLength: 200 })}`)
  if (result.ok) throw new Error('unreachable')
  assert.deepEqual(result.errors.map((e) => e.path).sort(), [...paths].sort())
  for (const e of result.errors) assert.ok(e.message.length > 0, `error at ${e.path} has no message`)
  return result.errors
}

const base = { sensor_id: 'sensor-123', value: 42.5, timestamp: TS }

describe('validateReading: valid readings', () => {
  test('a plain reading comes back as given', () => {
    assert.deepEqual(valid(base), base)
  })

  test('integer, negative, zero and extreme finite values are valid', () => {
    for (const value of [0, -0, 1, -273.15, 1e308, -1e308, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 0.1 + 0.2]) {
      assert.equal(valid({ ...base, value }).value, value)
    }
  })

  test('extra fields are ignored and not carried into the reading', () => {
    const reading = valid({ ...base, unit: 'C', location: { lat: 1, lon: 2 }, tags: ['a'], version: 2 })
    assert.deepEqual(reading, base)
    assert.deepEqual(Object.keys(reading).sort(), ['sensor_id', 'timestamp', 'value'])
  })

  test('fractional timestamps are kept to the millisecond', () => {
    assert.equal(valid({ ...base, timestamp: 1689260000.1234 }).timestamp, 1689260000.123)
    assert.equal(valid({ ...base, timestamp: 1689260000.123 }).timestamp, 1689260000.123)
    assert.equal(valid({ ...base, timestamp: 1689260000.5 }).timestamp, 1689260000.5)
    assert.equal(valid({ ...base, timestamp: 1689260000.9996 }).timestamp, 1689260001)
    assert.equal(valid({ ...base, timestamp: 1689260000.0004 }).timestamp, 1689260000)
  })

  test('a missing timestamp takes the default (the Kafka record time)', () => {
    const { timestamp: _omit, ...noTimestamp } = base
    assert.equal(valid(noTimestamp, { defaultTimestamp: 1689260000.5678 }).timestamp, 1689260000.568)
    assert.equal(valid({ ...noTimestamp, timestamp: undefined }, { defaultTimestamp: TS }).timestamp, TS)
  })

  test('a null timestamp takes the default too', () => {
    assert.equal(valid({ ...base, timestamp: null }, { defaultTimestamp: TS + 1 }).timestamp, TS + 1)
  })

  test('a present timestamp wins over the default', () => {
    assert.equal(valid(base, { defaultTimestamp: TS + 100 }).timestamp, TS)
  })

  test('timestamps exactly at the bounds are valid', () => {
    assert.equal(valid({ ...base, timestamp: MIN_TIMESTAMP_S }).timestamp, 946_684_800)
    assert.equal(valid({ ...base, timestamp: NOW + MAX_FUTURE_S }).timestamp, NOW + 86_400)
    assert.equal(valid({ ...base, timestamp: NOW }).timestamp, NOW)
  })

  test('"now" defaults to the real clock', () => {
    const now = Date.now() / 1000
    assert.ok(validateReading({ ...base, timestamp: now + MAX_FUTURE_S - 60 }).ok)
    assert.equal(validateReading({ ...base, timestamp: now + MAX_FUTURE_S + 60 }).ok, false)
  })

  test('sensor_id: every allowed character, 1 and 128 characters', () => {
    for (const id of ['a', 'Z', '0', '.', '_', ':', '-', 'AZaz09._:-', 'site-1:room.2_temp', 'x'.repeat(128)]) {
      assert.equal(valid({ ...base, sensor_id: id }).sensor_id, id)
    }
  })
})

describe('validateReading: types', () => {
  test('value of the wrong type is rejected at /value', () => {
    for (const value of ['42', '42.5', '', 'NaN', true, false, null, [], [42], {}, { v: 42 }, 42n]) {
      invalid({ ...base, value }, ['/value'])
    }
  })

  test('value NaN, Infinity and -Infinity (impossible in JSON, possible in JS objects) are rejected', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const [error] = invalid({ ...base, value }, ['/value'])
      assert.match(error?.message ?? '', /finite/)
    }
  })

  test('sensor_id of the wrong type is rejected at /sensor_id', () => {
    for (const sensor_id of [123, 0, true, null, [], ['sensor-1'], {}, { id: 'x' }]) {
      invalid({ ...base, sensor_id }, ['/sensor_id'])
    }
  })

  test('timestamp of the wrong type is rejected at /timestamp', () => {
    for (const timestamp of ['1689260000', '2023-07-13T15:33:20Z', '', true, false, [], [TS], {}, { s: TS }]) {
      invalid({ ...base, timestamp }, ['/timestamp'])
    }
  })

  test('timestamp NaN, Infinity and -Infinity are rejected', () => {
    for (const timestamp of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      invalid({ ...base, timestamp }, ['/timestamp'])
    }
  })

  test('a wrong default timestamp is validated like a given one', () => {
    const { timestamp: _omit, ...noTimestamp } = base
    invalid(noTimestamp, ['/timestamp'], { defaultTimestamp: 0 })
    invalid(noTimestamp, ['/timestamp'], { defaultTimestamp: Number.NaN })
    invalid(noTimestamp, ['/timestamp'], { defaultTimestamp: NOW * 1000 })
  })

  test('a value that is not an object is rejected at the root', () => {
    for (const input of [null, undefined, 42, 'sensor-123', '', true, [], [base], () => base]) {
      const errors = invalid(input, ['/'])
      assert.match(errors[0]?.message ?? '', /object/)
    }
  })

  test('missing fields are each reported', () => {
    invalid({}, ['/sensor_id', '/value', '/timestamp'])
    invalid({ sensor_id: 'a' }, ['/value', '/timestamp'])
    const errors = invalid({ value: 1, timestamp: TS }, ['/sensor_id'])
    assert.match(errors[0]?.message ?? '', /required/)
    const [noTs] = invalid({ sensor_id: 'a', value: 1 }, ['/timestamp'])
    assert.match(noTs?.message ?? '', /required/)
  })

  test('every problem is reported at once, each naming its field', () => {
    invalid({ sensor_id: '', value: 'x', timestamp: 5 }, ['/sensor_id', '/value', '/timestamp'])
  })

  test('error paths take the given prefix', () => {
    invalid({ ...base, value: 'x', sensor_id: '' }, ['/3/value', '/3/sensor_id'], { path: '/3' })
    invalid(null, ['/3'], { path: '/3' })
  })
})

describe('validateReading: ranges', () => {
  test('a timestamp before 2000-01-01 is rejected', () => {
    for (const timestamp of [MIN_TIMESTAMP_S - 1, MIN_TIMESTAMP_S - 0.001, 0, -1, 1, 946_684_799.999]) {
      const [error] = invalid({ ...base, timestamp }, ['/timestamp'])
      assert.match(error?.message ?? '', /2000/)
    }
  })

  test('a timestamp in milliseconds by mistake is rejected, saying so', () => {
    const [error] = invalid({ ...base, timestamp: TS * 1000 }, ['/timestamp'])
    assert.match(error?.message ?? '', /milliseconds/)
    invalid({ ...base, timestamp: NOW * 1000 + 123 }, ['/timestamp'])
    invalid({ ...base, timestamp: NOW * 1_000_000 }, ['/timestamp'])
  })

  test('a timestamp more than a day ahead is rejected', () => {
    for (const timestamp of [NOW + MAX_FUTURE_S + 0.001, NOW + MAX_FUTURE_S + 1, NOW + 2 * MAX_FUTURE_S, 4_102_444_800]) {
      const [error] = invalid({ ...base, timestamp }, ['/timestamp'])
      assert.match(error?.message ?? '', /future/)
    }
  })

  test('the future bound follows "now"', () => {
    const timestamp = NOW + MAX_FUTURE_S + 10
    invalid({ ...base, timestamp }, ['/timestamp'], { now: NOW })
    assert.equal(valid({ ...base, timestamp }, { now: NOW + 10 }).timestamp, timestamp)
  })
})

describe('validateReading: sensor_id', () => {
  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['129 characters', 'x'.repeat(129)],
    ['a space inside', 'sensor 1'],
    ['leading whitespace', ' sensor-1'],
    ['trailing whitespace', 'sensor-1 '],
    ['trailing newline', 'sensor-1\n'],
    ['a tab', 'sensor\t1'],
    ['only whitespace', '   '],
    ['a slash', 'site/sensor'],
    ['a backslash', 'site\\sensor'],
    ['a star', 'sensor*'],
    ['a comma', 'a,b'],
    ['a quote', 'sensor"1'],
    ['a NUL byte', 'sensor\u00001'],
    ['a Latin letter with accent', 'capteur-é'],
    ['a Greek letter', 'αισθητήρας'],
    ['CJK letters', '传感器'],
    ['fullwidth digits', 'sensor-１２３'],
    ['an emoji', 'sensor-🌡'],
    ['only an emoji', '😀'],
    ['a zero-width space', 'sensor\u200b1'],
    ['a non-breaking space', 'sensor\u00a01'],
    ['a lone surrogate', 'sensor-\ud800'],
    ['a huge string (1 MB)', 'x'.repeat(1024 * 1024)]
  ]
  for (const [name, sensor_id] of bad) {
    test(`rejects ${name}`, () => {
      const [error] = invalid({ ...base, sensor_id }, ['/sensor_id'])
      assert.match(error?.message ?? '', /128/)
    })
  }

  test('128 characters are valid, 129 are not', () => {
    assert.equal(valid({ ...base, sensor_id: 's'.repeat(128) }).sensor_id.length, 128)
    invalid({ ...base, sensor_id: 's'.repeat(129) }, ['/sensor_id'])
  })

  test('a huge sensor_id is rejected quickly', () => {
    const started = performance.now()
    for (let i = 0; i < 20; i++) invalid({ ...base, sensor_id: 'a'.repeat(1024 * 1024) + '!' }, ['/sensor_id'])
    assert.ok(performance.now() - started < 2_000, 'validating 20 huge ids took more than 2 s')
  })
})

describe('normalizeTimestamp', () => {
  test('rounds to whole milliseconds', () => {
    assert.equal(normalizeTimestamp(1689260000.1234), 1689260000.123)
    assert.equal(normalizeTimestamp(1689260000.1236), 1689260000.124)
    assert.equal(normalizeTimestamp(1689260000), 1689260000)
    assert.equal(normalizeTimestamp(1689260000.001), 1689260000.001)
  })

  test('is idempotent and always a whole number of milliseconds', () => {
    for (let i = 0; i < 1000; i++) {
      const t = MIN_TIMESTAMP_S + Math.random() * (NOW - MIN_TIMESTAMP_S)
      const once = normalizeTimestamp(t)
      assert.equal(normalizeTimestamp(once), once)
      assert.ok(Number.isInteger(Math.round(once * 1000)))
      assert.ok(Math.abs(once * 1000 - Math.round(once * 1000)) < 1e-3)
      // t * 1000 is itself rounded to a double, so a t within an ulp of a half millisecond may round either way
      assert.ok(Math.abs(once - t) <= 0.0005 + 4 * Number.EPSILON * t, `${t} -> ${once}`)
    }
  })
})

describe('newestPerSensor', () => {
  const r = (sensor_id: string, timestamp: number, value = 1): Reading => ({ sensor_id, value, timestamp })

  test('keeps the newest reading of each sensor, whatever the order', () => {
    const result = newestPerSensor([r('a', 3, 30), r('b', 1, 10), r('a', 5, 50), r('a', 4, 40), r('b', 2, 20)])
    assert.deepEqual(
      result.sort((x, y) => x.sensor_id.localeCompare(y.sensor_id)),
      [r('a', 5, 50), r('b', 2, 20)]
    )
  })

  test('on equal timestamps keeps the first', () => {
    assert.deepEqual(newestPerSensor([r('a', 5, 1), r('a', 5, 2)]), [r('a', 5, 1)])
  })

  test('empty in, empty out', () => {
    assert.deepEqual(newestPerSensor([]), [])
  })
})

describe('describeErrors', () => {
  test('one line naming every path', () => {
    assert.equal(
      describeErrors([
        { path: '/value', message: 'must be a finite number' },
        { path: '/timestamp', message: 'is required' }
      ]),
      '/value must be a finite number; /timestamp is required'
    )
  })
})

// The JSON schema (used for HTTP bodies and the OpenAPI document) must accept and reject the same
// structural cases as validateReading. What the schema cannot say, and only validateReading checks:
//   - the upper timestamp bound, which is relative to now (one day after the current time);
//   - finiteness of numbers: JSON has no NaN/Infinity, so a schema cannot exclude them; ajv's
//     default `strictNumbers` happens to reject them, but the schema itself does not;
//   - a missing or null timestamp replaced by a default (the Kafka record time), which is an option
//     of validateReading, not part of the document.
describe('readingSchema parity with validateReading (ajv)', () => {
  const ajv = new Ajv({ strict: true, allErrors: true })
  const schemaValidate = ajv.compile(readingSchema)

  const cases: Array<[string, unknown]> = [
    ['a plain reading', base],
    ['extra fields', { ...base, unit: 'C', nested: { a: [1] } }],
    ['fractional timestamp', { ...base, timestamp: 1689260000.1234 }],
    ['timestamp at the lower bound', { ...base, timestamp: MIN_TIMESTAMP_S }],
    ['timestamp just before 2000', { ...base, timestamp: MIN_TIMESTAMP_S - 0.001 }],
    ['timestamp 0', { ...base, timestamp: 0 }],
    ['negative timestamp', { ...base, timestamp: -1 }],
    ['string timestamp', { ...base, timestamp: String(TS) }],
    ['ISO timestamp', { ...base, timestamp: '2023-07-13T15:33:20Z' }],
    ['boolean timestamp', { ...base, timestamp: true }],
    ['null timestamp (no default)', { ...base, timestamp: null }],
    ['missing timestamp (no default)', { sensor_id: 'a', value: 1 }],
    ['string value', { ...base, value: '42' }],
    ['boolean value', { ...base, value: true }],
    ['null value', { ...base, value: null }],
    ['array value', { ...base, value: [1] }],
    ['object value', { ...base, value: { v: 1 } }],
    ['missing value', { sensor_id: 'a', timestamp: TS }],
    ['negative value', { ...base, value: -5 }],
    ['zero value', { ...base, value: 0 }],
    ['numeric sensor_id', { ...base, sensor_id: 123 }],
    ['null sensor_id', { ...base, sensor_id: null }],
    ['missing sensor_id', { value: 1, timestamp: TS }],
    ['empty sensor_id', { ...base, sensor_id: '' }],
    ['128-character sensor_id', { ...base, sensor_id: 'x'.repeat(128) }],
    ['129-character sensor_id', { ...base, sensor_id: 'x'.repeat(129) }],
    ['sensor_id with a space', { ...base, sensor_id: 'a b' }],
    ['sensor_id with a trailing newline', { ...base, sensor_id: 'a\n' }],
    ['sensor_id with a slash', { ...base, sensor_id: 'a/b' }],
    ['sensor_id with an accent', { ...base, sensor_id: 'é' }],
    ['sensor_id with an emoji', { ...base, sensor_id: 'a😀' }],
    ['sensor_id with every allowed character', { ...base, sensor_id: 'AZaz09._:-' }],
    ['empty object', {}],
    ['null', null],
    ['array', [base]],
    ['string', 'sensor-123'],
    ['number', 42]
  ]

  for (const [name, input] of cases) {
    test(`${name}: same verdict`, () => {
      const ours = validateReading(input, { now: NOW }).ok
      assert.equal(schemaValidate(input), ours, `schema and validateReading disagree on ${name} (validateReading: ${ours})`)
    })
  }

  test('the schema and validateReading agree on which fields are wrong', () => {
    const input = { sensor_id: '', value: 'x', timestamp: 5 }
    assert.equal(schemaValidate(input), false)
    const schemaPaths = new Set((schemaValidate.errors ?? []).map((e) => e.instancePath))
    const result = validateReading(input, { now: NOW })
    assert.ok(!result.ok)
    assert.deepEqual(new Set(result.errors.map((e) => e.path)), schemaPaths)
  })

  test('only validateReading: a timestamp more than a day after now', () => {
    const input = { ...base, timestamp: NOW + MAX_FUTURE_S + 1 }
    assert.equal(schemaValidate(input), true)
    assert.equal(validateReading(input, { now: NOW }).ok, false)
  })

  test('only validateReading: finiteness (the schema needs ajv strictNumbers to reject NaN/Infinity)', () => {
    const lenient = new Ajv({ strictNumbers: false }).compile(readingSchema)
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(lenient({ ...base, value }), true, 'the schema alone cannot express finiteness')
      assert.equal(schemaValidate({ ...base, value }), false, 'ajv strictNumbers (default) rejects it')
      assert.equal(validateReading({ ...base, value }, { now: NOW }).ok, false)
    }
    assert.equal(lenient({ ...base, timestamp: Number.POSITIVE_INFINITY }), true)
    assert.equal(validateReading({ ...base, timestamp: Number.POSITIVE_INFINITY }, { now: NOW }).ok, false)
  })

  test('only validateReading: a missing timestamp taking a default', () => {
    const input = { sensor_id: 'a', value: 1 }
    assert.equal(schemaValidate(input), false)
    assert.equal(validateReading(input, { now: NOW, defaultTimestamp: TS }).ok, true)
  })
})
