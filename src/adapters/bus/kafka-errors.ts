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
  return find(err, 'code', 'PLT_KFK_USER') && !/closed/i.test(errorText(err))
}

/** The group moved on (rebalance, expired membership): a commit for the old assignment was refused. */
export function isRebalanceError(err: unknown): boolean {
  return (
    find(err, 'needsRejoin', true) ||
    ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'].some((id) => find(err, 'apiId', id))
  )
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
  return unavailable('kafka', err)
}

/** One line naming the innermost causes, for logs and messages (MultipleErrors hide them otherwise). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const nested = err instanceof AggregateError ? err.errors.map(errorText) : []
  const unique = [...new Set(nested)].slice(0, 3)
  return unique.length > 0 ? `${err.message} (${unique.join('; ')})` : err.message
}
