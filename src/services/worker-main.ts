// The worker side of runServiceInWorker: builds the service's context (logger, stop signal) and runs
// its main, then reports to the parent.
import { parentPort, workerData } from 'node:worker_threads'
import { createLogger } from '../platform/logger.ts'
import { serializeError, type WorkerReport, type WorkerServiceData } from './in-worker.ts'
import type { ServiceMain } from './service.ts'

const port = parentPort
if (port === null) throw new Error('worker-main runs in a worker thread only')
const { module, context } = workerData as WorkerServiceData
const logger = createLogger(context.config.logLevel).child(context.logBindings)
const stopping = new AbortController()
port.on('message', (message: unknown) => {
  if (message === 'stop') stopping.abort()
})

let report: WorkerReport
try {
  const { main } = (await import(module)) as { main: ServiceMain }
  await main({ config: context.config, logger, signal: stopping.signal })
  report = { kind: 'done' }
} catch (err) {
  report = { kind: 'failed', error: serializeError(err) }
}

// The parent ends the worker once it has this report (stray handles of a library cannot keep it alive).
port.postMessage(report)
