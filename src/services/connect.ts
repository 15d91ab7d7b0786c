// Opens adapters in order, waiting out dependencies that are not up yet, and closes them in reverse.
// A stop asked for while waiting is a clean stop: connectAll then resolves with nothing open.
import type { Logger } from '../platform/logger.ts'
import { retryForever } from '../platform/retry.ts'
import type { Lifecycle } from '../ports/lifecycle.ts'

export interface Opened {
  /** closes everything opened so far, last first; never throws */
  close(): Promise<void>
}

const STOPPED = new Error('stopped while waiting for a dependency')

/** Callers check `signal.aborted` after it: when set, nothing is open and the service should return. */
export async function connectAll(parts: Readonly<Record<string, Lifecycle>>, logger: Logger, signal: AbortSignal): Promise<Opened> {
  const opened: [string, Lifecycle][] = []
  const close = async (): Promise<void> => {
    for (const [name, part] of opened.reverse()) {
      await part.close().catch((err: Error) => logger.warn({ part: name, err }, 'close failed'))
    }
  }
  try {
    for (const [name, part] of Object.entries(parts)) {
      // Closed too if it never connects (a driver may hold a socket or a reconnect timer).
      opened.push([name, part])
      // No new attempt once stopping: the wait ends, and the stop is not reported as a failure.
      await retryForever(() => (signal.aborted ? Promise.reject(STOPPED) : part.connect()), {
        signal,
        maxDelayMs: 2_000,
        onRetry: (err, attempt) => {
          if (attempt === 1 || attempt % 10 === 0) logger.warn({ part: name, attempt, err }, 'waiting for dependency')
        }
      })
    }
  } catch (err) {
    await close()
    if (signal.aborted) return { close: async () => undefined }
    throw err
  }
  return { close }
}
