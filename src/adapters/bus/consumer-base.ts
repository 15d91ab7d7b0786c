// What every BusConsumer shares: run() once, close() stops it and waits for it to finish.
import type { BatchHandler, BusConsumer, ConsumeOptions } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'

export abstract class SingleRunConsumer implements BusConsumer {
  /** aborted by close(): the loop stops fetching, finishes the batches in hand and returns */
  protected readonly closing = new AbortController()
  #running: Promise<void> | undefined

  /** Nothing to open: run() connects to what it needs. */
  async connect(): Promise<void> {}

  run(options: ConsumeOptions, handler: BatchHandler): Promise<void> {
    if (this.#running !== undefined) return Promise.reject(new AppError('CONFLICT', 'this consumer is already running'))
    if (this.closing.signal.aborted) return Promise.reject(new AppError('CONFLICT', 'this consumer is closed'))
    if (!(options.maxBatchRecords >= 1) || !(options.maxBatchWaitMs >= 0)) {
      return Promise.reject(new AppError('INTERNAL', 'maxBatchRecords must be ≥ 1 and maxBatchWaitMs ≥ 0'))
    }
    this.#running = this.loop(options, handler)
    return this.#running
  }

  /** Stops fetching, lets the batches in hand finish and commits them; run() then resolves. */
  async close(): Promise<void> {
    this.closing.abort()
    await this.#running?.catch(() => undefined)
  }

  protected abstract loop(options: ConsumeOptions, handler: BatchHandler): Promise<void>
}
