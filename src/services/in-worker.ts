// Runs a service's main in a worker thread, so that its V8 heap can be bounded (resourceLimits)
// without node flags: `node src/cli.ts streaming` and the Docker image get the same bound.
// The worker gets the config and the logger's bindings; stopping and failures cross the thread
// boundary as messages. Errors keep their AppError code (exit codes depend on it).
import { Worker, type ResourceLimits } from 'node:worker_threads'
import { AppError, type ErrorCode } from '../platform/errors.ts'
import type { ServiceContext } from './service.ts'

/** What the worker posts to its parent. */
export type WorkerReport = { readonly kind: 'done' } | { readonly kind: 'failed'; readonly error: SerializedError }

export interface SerializedError {
  readonly message: string
  readonly stack?: string
  readonly code?: ErrorCode
  readonly retryable?: boolean
}

export interface WorkerServiceData {
  /** the module whose `main` is the service */
  readonly module: string
  readonly context: Omit<ServiceContext, 'logger' | 'signal'> & { readonly logBindings: Record<string, unknown> }
}

// src/*.ts when run from source, dist/*.js when built.
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js'

/** The file of a module next to `base` (an import.meta.url), with the extension this build uses. */
export function siblingModule(base: string, name: string): string {
  return new URL(`./${name}${EXTENSION}`, base).href
}

/**
 * Runs `module`'s main in a worker until the context's signal aborts and the service has stopped.
 * Rejects with the service's error, or if the worker died (out of memory, a crash).
 */
export function runServiceInWorker(module: string, context: ServiceContext, resourceLimits: ResourceLimits): Promise<void> {
  const data: WorkerServiceData = {
    module,
    // Without `name`, which the worker's own logger sets again (else it is printed twice).
    context: { config: context.config, logBindings: withoutName(context.logger.bindings()) }
  }
  const worker = new Worker(new URL(siblingModule(import.meta.url, 'worker-main')), { workerData: data, resourceLimits })
  const stop = (): void => worker.postMessage('stop')
  context.signal.addEventListener('abort', stop, { once: true })
  if (context.signal.aborted) stop()
  return new Promise<void>((resolve, reject) => {
    let report: WorkerReport | undefined
    worker.on('message', (message: WorkerReport) => {
      report = message
      if (message.kind === 'done') resolve()
      else reject(deserializeError(message.error))
    })
    worker.on('error', reject)
    worker.on('exit', (code) => {
      if (report === undefined) reject(new AppError('INTERNAL', `service worker exited with code ${code} before it stopped`))
    })
  }).finally(() => {
    context.signal.removeEventListener('abort', stop)
    void worker.terminate()
  })
}

function withoutName(bindings: Record<string, unknown>): Record<string, unknown> {
  const { name: _name, ...rest } = bindings
  return rest
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof AppError)
    return { message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }), code: err.code, retryable: err.retryable }
  if (err instanceof Error) return { message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) }
  return { message: String(err) }
}

function deserializeError(error: SerializedError): Error {
  const err = error.code === undefined ? new Error(error.message) : new AppError(error.code, error.message, { retryable: error.retryable ?? false })
  if (error.stack !== undefined) err.stack = error.stack
  return err
}
