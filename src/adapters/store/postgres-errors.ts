// Translates node-postgres errors into port errors: connection trouble is retryable, bad SQL is not.
import { AppError } from '../../platform/errors.ts'

const RETRYABLE_CLASSES = ['08', '53', '57', '40'] // connection, resources, operator intervention, rollback
const RETRYABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'])

export function translatePgError(err: unknown, operation: string): AppError {
  if (err instanceof AppError) return err
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  const retryable =
    (typeof code === 'string' && (RETRYABLE_NODE_CODES.has(code) || RETRYABLE_CLASSES.includes(code.slice(0, 2)))) ||
    /timeout|terminat|Connection|connect/i.test(message)
  if (code === '57014') return new AppError('TIMEOUT', `postgres ${operation}: statement timed out`, { cause: err, retryable: true })
  return retryable
    ? new AppError('UNAVAILABLE', `postgres unavailable during ${operation}: ${message}`, { cause: err, retryable: true })
    : new AppError('INTERNAL', `postgres ${operation} failed: ${message}`, { cause: err })
}
