// errorText: the client's wrappers and the innermost reason, each said once; classification unchanged.
import assert from 'node:assert/strict'
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  protocolErrors,
  TimeoutError,
  UnsupportedApiError,
  UserError
} from '@platformatic/kafka'
import { test } from 'node:test'
import { errorText, isPermanentKafkaError, isRebalanceError, toAppError } from './kafka-errors.ts'

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

test('a user error is permanent, except the client closed or a broker gone from the metadata in the middle of a retry, at any depth', () => {
  assert.equal(isPermanentKafkaError(new UserError('Invalid option.')), true)
  assert.equal(isPermanentKafkaError(new MultipleErrors('send failed 2 times.', [new UserError('Client is closed.')])), false)
  // What a fetch whose leader was killed fails with (seen in kafka-cluster.test.ts).
  const killedLeader = new MultipleErrors('fetch failed 7 times.', [new NetworkError('Connection closed'), new UserError('Cannot find broker with node id 3')])
  assert.equal(isPermanentKafkaError(killedLeader), false)
  assert.equal(isPermanentKafkaError(unreachable(3)), false)
})

// What the hand list of permanent broker ids said before the library's tags were used.
const PERMANENT_IDS = [
  'INVALID_TOPIC_EXCEPTION',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_REQUIRED_ACKS',
  'INVALID_GROUP_ID',
  'INVALID_SESSION_TIMEOUT',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_COMPRESSION_TYPE'
]
// Broker answers a service waits out: leaders moving, the group rebalancing, brokers restarting.
const TRANSIENT_IDS = [
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'REQUEST_TIMED_OUT',
  'NOT_ENOUGH_REPLICAS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
  'MEMBER_ID_REQUIRED',
  'BROKER_NOT_AVAILABLE',
  'UNKNOWN_SERVER_ERROR',
  'OUT_OF_ORDER_SEQUENCE_NUMBER'
]

// The broker's answer as the client hands it over: a ResponseError inside the MultipleErrors of its retries.
function answered(id: string): MultipleErrors {
  const code = protocolErrors[id as keyof typeof protocolErrors]?.code ?? assert.fail(`no broker error ${id}`)
  return new MultipleErrors('produce failed 1 times.', [new ResponseError(0, 9, { '/topics/0': [code, null] }, {})])
}

test('broker answers: the permanent ones are permanent, at any depth, the rest are waited out', () => {
  for (const id of PERMANENT_IDS) {
    assert.equal(isPermanentKafkaError(new ProtocolError(id)), true, id)
    assert.equal(isPermanentKafkaError(answered(id)), true, `${id} in a response`)
  }
  for (const id of TRANSIENT_IDS) {
    assert.equal(isPermanentKafkaError(new ProtocolError(id)), false, id)
    assert.equal(isPermanentKafkaError(answered(id)), false, `${id} in a response`)
  }
})

test('client errors: bad options and unsupported brokers are permanent, connections and timeouts are not', () => {
  assert.equal(isPermanentKafkaError(new AuthenticationError('bad credentials')), true)
  assert.equal(isPermanentKafkaError(new UnsupportedApiError('no such api')), true)
  assert.equal(isPermanentKafkaError(new TimeoutError('Request timed out.')), false)
  assert.equal(isPermanentKafkaError(new NetworkError('Connection closed.')), false)
  assert.equal(isPermanentKafkaError(new Error('anything else')), false)
})

test("a rebalance is told by the client's needsRejoin tag", () => {
  for (const id of ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID']) {
    assert.equal(isRebalanceError(answered(id)), true, id)
  }
  assert.equal(isRebalanceError(answered('NOT_LEADER_OR_FOLLOWER')), false)
})
