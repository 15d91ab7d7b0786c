// Turns SIGTERM/SIGINT into an AbortSignal that services watch. A second signal, or a service that
// does not stop within the grace period, ends the process with exit code 1.
import type { Logger } from './logger.ts'

export interface Shutdown {
  readonly signal: AbortSignal
  /** stops listening to process signals (tests) */
  dispose(): void
}

export function onShutdownSignals(logger: Logger, graceMs = 10_000): Shutdown {
  const controller = new AbortController()
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      logger.warn({ signal: sig }, 'second signal: exiting now')
      process.exit(1)
    }
    logger.info({ signal: sig }, 'stopping')
    controller.abort()
    setTimeout(() => {
      logger.error({ graceMs }, 'did not stop in time: exiting')
      process.exit(1)
    }, graceMs).unref()
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGTERM', handler)
      process.off('SIGINT', handler)
    }
  }
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
