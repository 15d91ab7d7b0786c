// Translates @platformatic/kafka errors into AppError, so that no driver error leaves the adapter.
// Most Kafka failures are transient (broker down, leader moving, group rebalancing): those become
// `unavailable('kafka')`, retryable. Only configuration or programming mistakes are permanent.
import { findErrorBy } from '@platformatic/kafka'
import { AppError, unavailable } from '../../platform/errors.ts'

// Broker error ids that no retry can fix: wrong topic name, oversized record, missing rights…
const PERMANENT_API_ERRORS = [
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
] as const

// Client-side error codes that mean the call itself is wrong (bad options, unsupported broker).
const PERMANENT_CLIENT_CODES = ['PLT_KFK_AUTHENTICATION', 'PLT_KFK_UNSUPPORTED_API', 'PLT_KFK_UNSUPPORTED'] as const

// Errors are searched through the whole chain: the client wraps retries in MultipleErrors.
function find(err: unknown, property: string, value: unknown): boolean {
  return err instanceof Error && findErrorBy(err, property, value) !== null
}

/** True when retrying cannot help (configuration or programming error). */
export function isPermanentKafkaError(err: unknown): boolean {
  if (err instanceof AppError) return !err.retryable
  if (PERMANENT_API_ERRORS.some((id) => find(err, 'apiId', id))) return true
  if (PERMANENT_CLIENT_CODES.some((code) => find(err, 'code', code))) return true
  // A user error is an invalid call, except the one the client raises when it is closed mid-retry.
  return find(err, 'code', 'PLT_KFK_USER') && !everyMessage(err).some((m) => /closed/i.test(m))
}

/** The group moved on (rebalance, expired membership): a commit for the old assignment was refused. */
export function isRebalanceError(err: unknown): boolean {
  return (
    find(err, 'needsRejoin', true) ||
    ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'].some((id) => find(err, 'apiId', id))
  )
}

/** The broker refused a record batch or request as over its size limit. */
export function isTooLarge(err: unknown): boolean {
  return find(err, 'apiId', 'MESSAGE_TOO_LARGE') || find(err, 'apiId', 'RECORD_LIST_TOO_LARGE')
}

/** The client's answer for a topic missing from the cluster's metadata. */
export function isUnknownTopic(err: unknown): boolean {
  return find(err, 'apiId', 'UNKNOWN_TOPIC_OR_PARTITION') || (find(err, 'code', 'PLT_KFK_USER') && /unknown topic/i.test(errorText(err)))
}

export function isTopicAlreadyExists(err: unknown): boolean {
  return find(err, 'apiId', 'TOPIC_ALREADY_EXISTS')
}

/** The AppError to hand to callers: retryable `UNAVAILABLE` unless the error is permanent. */
export function toAppError(err: unknown, action: string): AppError {
  if (err instanceof AppError) return err
  if (isPermanentKafkaError(err)) {
    return new AppError('INTERNAL', `kafka ${action} failed: ${errorText(err)}`, { cause: err })
  }
  return unavailable('kafka', err, errorText(err))
}

/**
 * One line: the error's message and its innermost causes, each once, for logs and messages
 * (MultipleErrors of every retry hide them otherwise): `metadata failed 7 times: connect ECONNREFUSED 127.0.0.1:1`.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const roots = [...new Set(innermost(err))].filter((m) => m !== err.message).slice(0, 3)
  return roots.length > 0 ? `${err.message.replace(/\.$/, '')}: ${roots.join('; ')}` : err.message
}

/** The errors an error wraps: those of a MultipleErrors (one per retry) and its cause. */
function inner(err: Error): unknown[] {
  return [...(err instanceof AggregateError ? err.errors : []), ...(err.cause === undefined ? [] : [err.cause])]
}

function innermost(err: unknown): string[] {
  if (!(err instanceof Error)) return [String(err)]
  const wrapped = inner(err)
  return wrapped.length === 0 ? [err.message] : wrapped.flatMap(innermost)
}

function everyMessage(err: unknown): string[] {
  return err instanceof Error ? [err.message, ...inner(err).flatMap(everyMessage)] : [String(err)]
}
