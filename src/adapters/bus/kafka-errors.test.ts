// errorText: the client's wrappers and the innermost reason, each said once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errorText, toAppError } from './kafka-errors.ts'

// The shape @platformatic/kafka gives an unreachable broker: MultipleErrors (AggregateError) of each
// try, each a MultipleErrors "Cannot connect to any broker." of a NetworkError whose cause is Node's.
function unreachable(tries: number): AggregateError {
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:1')
  const perTry = () => new AggregateError([new Error('Connection to 127.0.0.1:1 failed.', { cause: refused })], 'Cannot connect to any broker.')
  return new AggregateError(Array.from({ length: tries }, perTry), `metadata failed ${tries} times.`)
}

test('the address is named and nothing is repeated', () => {
  assert.equal(errorText(unreachable(7)), 'metadata failed 7 times: connect ECONNREFUSED 127.0.0.1:1')
  assert.equal(toAppError(unreachable(7), 'connect').message, 'kafka unavailable: metadata failed 7 times: connect ECONNREFUSED 127.0.0.1:1')
})

test('plain errors and several distinct causes', () => {
  assert.equal(errorText(new Error('plain')), 'plain')
  assert.equal(errorText('text'), 'text')
  const two = new AggregateError([new Error('a'), new Error('b'), new Error('a')], 'two failed.')
  assert.equal(errorText(two), 'two failed: a; b')
})
