// errorText: the client's wrappers and the innermost reason, each said once; classification unchanged.
import assert from 'node:assert/strict'
import { MultipleErrors, NetworkError, UserError } from '@platformatic/kafka'
import { test } from 'node:test'
import { errorText, isPermanentKafkaError, toAppError } from './kafka-errors.ts'

// What @platformatic/kafka gives for an unreachable broker: MultipleErrors of every try, each a
// MultipleErrors "Cannot connect to any broker." of a NetworkError whose cause is Node's error.
function unreachable(tries: number): MultipleErrors {
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:1')
  const perTry = () => new MultipleErrors('Cannot connect to any broker.', [new NetworkError('Connection to 127.0.0.1:1 failed.', { cause: refused })])
  return new MultipleErrors(`metadata failed ${tries} times.`, Array.from({ length: tries }, perTry))
}

test('the address is named and nothing is repeated', () => {
  assert.equal(errorText(unreachable(7)), 'metadata failed 7 times: connect ECONNREFUSED 127.0.0.1:1')
  const err = toAppError(unreachable(7), 'connect')
  assert.equal(err.message, 'kafka unavailable: metadata failed 7 times: connect ECONNREFUSED 127.0.0.1:1')
  assert.equal(err.retryable, true)
})

test('plain errors and several distinct causes', () => {
  assert.equal(errorText(new Error('plain')), 'plain')
  assert.equal(errorText('text'), 'text')
  const two = new AggregateError([new Error('a'), new Error('b'), new Error('a')], 'two failed.')
  assert.equal(errorText(two), 'two failed: a; b')
})

test('a user error is permanent, except the client closed in the middle of a retry, at any depth', () => {
  assert.equal(isPermanentKafkaError(new UserError('Invalid option.')), true)
  assert.equal(isPermanentKafkaError(new MultipleErrors('send failed 2 times.', [new UserError('Client is closed.')])), false)
  assert.equal(isPermanentKafkaError(unreachable(3)), false)
})
