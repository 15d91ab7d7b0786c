// Opens adapters in order, waiting out dependencies that are not up yet, and closes them in reverse.
import type { Logger } from '../platform/logger.ts'
import { retryForever } from '../platform/retry.ts'
import type { Lifecycle } from '../ports/lifecycle.ts'

export interface Opened {
  /** closes everything opened so far, last first; never throws */
  close(): Promise<void>
}

export async function connectAll(parts: Readonly<Record<string, Lifecycle>>, logger: Logger, signal: AbortSignal): Promise<Opened> {
  const opened: [string, Lifecycle][] = []
  const close = async (): Promise<void> => {
    for (const [name, part] of opened.reverse()) {
      await part.close().catch((err: Error) => logger.warn({ part: name, err: err.message }, 'close failed'))
    }
  }
  try {
    for (const [name, part] of Object.entries(parts)) {
      await retryForever(() => part.connect(), {
        signal,
        maxDelayMs: 2_000,
        onRetry: (err, attempt) => {
          if (attempt === 1 || attempt % 10 === 0) logger.warn({ part: name, attempt, err: (err as Error).message }, 'waiting for dependency')
        }
      })
      opened.push([name, part])
    }
  } catch (err) {
    await close()
    throw err
  }
  return { close }
}
