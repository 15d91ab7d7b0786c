import assert from 'node:assert/strict'
import { test } from 'node:test'
import { globToLike, globToRegExp, isSensorPattern, SensorFilter } from './sensor-pattern.ts'

test('`*` is any run of characters, `?` exactly one, everything else literal', () => {
  const re = globToRegExp('line-4.*')
  assert.ok(re.test('line-4.a') && re.test('line-4.temp.1') && re.test('line-4.'))
  assert.ok(!re.test('line-40') && !re.test('xline-4.a'))
  assert.ok(globToRegExp('pump-?').test('pump-1') && !globToRegExp('pump-?').test('pump-12'))
  assert.ok(!globToRegExp('a.b').test('aXb'))
})

test('the same glob as SQL LIKE escapes LIKE wildcards of sensor ids', () => {
  assert.equal(globToLike('line_4.*'), 'line\\_4.%')
  assert.equal(globToLike('p?'), 'p_')
})

test('a filter of ids and globs; empty matches nothing, `*` everything', () => {
  const f = new SensorFilter(['a', 'b.*'])
  assert.ok(f.matches('a') && f.matches('b.x') && !f.matches('c'))
  f.remove(['b.*'])
  assert.ok(!f.matches('b.x'))
  assert.ok(!new SensorFilter().matches('a'))
  assert.ok(new SensorFilter(['*']).matches('anything'))
  assert.ok(isSensorPattern('line-4.*') && !isSensorPattern('a b') && !isSensorPattern(''))
})
