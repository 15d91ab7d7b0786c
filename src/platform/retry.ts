// Retries an operation with capped exponential backoff and jitter until it succeeds or `signal` aborts.
// Used where the architecture says "outages are waited out": nothing is acknowledged until stored.
// The one backoff and the one abortable sleep of the code base; the Kafka client's retryDelay and
// the Redis reconnect strategy use the same backoff.
import { setTimeout as delay } from 'node:timers/promises'

export interface RetryOptions {
  readonly initialDelayMs?: number
  readonly maxDelayMs?: number
  /** stop retrying (and rethrow the last error) once aborted */
  readonly signal?: AbortSignal
  /** called before each wait, for logging and metrics */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void
  /** errors for which retrying cannot help; rethrown at once */
  readonly isFatal?: (err: unknown) => boolean
}

export async function retryForever<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const initial = options.initialDelayMs ?? 100
  const max = options.maxDelayMs ?? 5_000
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation()
    } catch (err) {
      if (options.isFatal?.(err) === true || options.signal?.aborted === true) throw err
      const wait = backoffMs(attempt, initial, max)
      options.onRetry?.(err, attempt, wait)
      await sleep(wait, options.signal)
    }
  }
}

/** Capped exponential backoff with jitter (attempt counts from 1): half to all of min(max, initial·2^(attempt-1)). */
export function backoffMs(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 16))
  return Math.round(base * (0.5 + Math.random() / 2))
}

/** Waits `ms`, or less if `signal` aborts (then resolves, never rejects). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch((err: unknown) => {
    if (signal?.aborted !== true) throw err
  })
}
