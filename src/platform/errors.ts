// One error base class for the whole project: a stable `code`, the `cause`, and whether a retry may help.
// Adapters translate driver errors into these; HTTP maps codes to statuses in one place.

export type ErrorCode =
  'CONFIG_INVALID' | 'VALIDATION_FAILED' | 'NOT_FOUND' | 'UNAVAILABLE' | 'TIMEOUT' | 'CONFLICT' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'INTERNAL'

export interface AppErrorOptions {
  readonly cause?: unknown
  readonly retryable?: boolean
  readonly details?: unknown
}

export class AppError extends Error {
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.retryable = options.retryable ?? false
    this.details = options.details
  }
}

/**
 * A dependency (Postgres, Redis, Kafka) did not answer; trying again later may succeed. The message
 * says the reason once (`reason`, by default the cause's message); the logger keeps the cause apart.
 */
export function unavailable(dependency: string, cause: unknown, reason = messageOf(cause)): AppError {
  return new AppError('UNAVAILABLE', `${dependency} unavailable: ${reason}`, { cause, retryable: true })
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function isRetryable(err: unknown): boolean {
  return err instanceof AppError ? err.retryable : false
}
