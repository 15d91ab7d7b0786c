// Retries an operation with capped exponential backoff and jitter until it succeeds or `signal` aborts.
// Used where the architecture says "outages are waited out": nothing is acknowledged until stored.

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
      const delay = Math.min(max, initial * 2 ** Math.min(attempt - 1, 16)) * (0.5 + Math.random() / 2)
      options.onRetry?.(err, attempt, Math.round(delay))
      await sleep(delay, options.signal)
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
