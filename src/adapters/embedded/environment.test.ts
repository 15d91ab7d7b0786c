import assert from 'node:assert/strict'
import { test } from 'node:test'
import { findExecutable, requireExecutable } from './environment.ts'

test('a missing binary is an error that says how to install it', () => {
  assert.equal(findExecutable('sensorstream-no-such-binary'), undefined)
  assert.throws(() => requireExecutable('sensorstream-no-such-binary', 'apt-get install -y it'), /not installed.*apt-get install -y it/)
  assert.ok(findExecutable('sh') !== undefined)
})
