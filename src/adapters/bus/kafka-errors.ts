// Translates @platformatic/kafka errors into AppError, so that no driver error leaves the adapter.
// Most Kafka failures are transient (broker down, leader moving, group rebalancing): those become
// `unavailable('kafka')`, retryable. Only configuration or programming mistakes are permanent.
import { findErrorBy, GenericError, UserError } from '@platformatic/kafka'
import { AppError, unavailable } from '../../platform/errors.ts'

// The client tags each of its errors with `canRetry` (its own request-level retry cannot help when
// false), `needsRejoin` (the group moved on) and `hasStaleMetadata` (a leader moved). Permanent, for
// a service, is narrower than `canRetry: false`: the group and metadata cases are recovered by the
// client, timeouts and half-read connections by the next connection, and a few broker states by the
// broker itself. These broker ids are tagged `canRetry: false` yet pass with time:
const RECOVERS_BY_ITSELF: ReadonlySet<string> = new Set([
  'UNKNOWN_SERVER_ERROR',
  'BROKER_NOT_AVAILABLE',
  'STALE_CONTROLLER_EPOCH',
  'STALE_BROKER_EPOCH',
  'NEW_LEADER_ELECTED',
  'REASSIGNMENT_IN_PROGRESS',
  'OPERATION_NOT_ATTEMPTED',
  'OFFSET_OUT_OF_RANGE',
  'STALE_MEMBER_EPOCH',
  'FENCED_MEMBER_EPOCH',
  // the idempotent producer starts a new sequence on its next connection
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH'
])

// Client-side errors tagged `canRetry: false` that a new connection clears (TimeoutError shares
// NetworkError's code).
const RECOVERABLE_CLIENT_CODES: ReadonlySet<string> = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_UNEXPECTED_CORRELATION_ID', 'PLT_KFK_UNFINISHED_WRITE_BUFFER'])

// Errors are searched through the whole chain: the client wraps retries in MultipleErrors.
function find(err: unknown, property: string, value: unknown): boolean {
  return err instanceof Error && findErrorBy(err, property, value) !== null
}

/** The error and every error it wraps (MultipleErrors of each retry, causes). */
function* chain(err: unknown): Generator<unknown> {
  yield err
  if (err instanceof Error) for (const wrapped of inner(err)) yield* chain(wrapped)
}

type Tagged = GenericError & { canRetry?: boolean; needsRejoin?: boolean; hasStaleMetadata?: boolean; apiId?: string }

function permanentOne(err: unknown): boolean {
  if (!(err instanceof Error) || !GenericError.isGenericError(err)) return false
  const e = err as Tagged
  if (e.canRetry !== false || e.needsRejoin === true || e.hasStaleMetadata === true) return false
  if (RECOVERABLE_CLIENT_CODES.has(e.code)) return false
  if (e.apiId !== undefined && RECOVERS_BY_ITSELF.has(e.apiId)) return false
  // A user error is an invalid call, except the ones the client raises mid-retry: closed, or a fetch
  // planned on metadata that named a broker which has left it (a broker killed: the next metadata
  // names the new leader).
  return !(e.code === UserError.code && TRANSIENT_USER_ERRORS.test(e.message))
}

const TRANSIENT_USER_ERRORS = /closed|cannot find broker with node id/i

/** True when retrying cannot help (configuration or programming error). */
export function isPermanentKafkaError(err: unknown): boolean {
  if (err instanceof AppError) return !err.retryable
  for (const e of chain(err)) if (permanentOne(e)) return true
  return false
}

/** The group moved on (rebalance, expired membership): a commit for the old assignment was refused. */
export function isRebalanceError(err: unknown): boolean {
  return find(err, 'needsRejoin', true)
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
