// What every BusConsumer shares: subscribe() once, one next() at a time, nothing after close().
import type { BusBatch, BusConsumer, ConsumeOptions } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'

export abstract class PullConsumer implements BusConsumer {
  /** aborted by close(): a waiting next() resolves undefined */
  protected readonly closing = new AbortController()
  #subscribed = false
  #taking = false
  #finished: Promise<void> | undefined

  /** Nothing to open: subscribe() connects to what it needs. */
  async connect(): Promise<void> {}

  subscribe(options: ConsumeOptions): void {
    if (this.#subscribed) throw new AppError('CONFLICT', 'this consumer is already subscribed')
    if (this.closing.signal.aborted) throw new AppError('CONFLICT', 'this consumer is closed')
    if (!(options.maxBatchRecords >= 1) || !(options.maxBatchWaitMs >= 0)) {
      throw new AppError('INTERNAL', 'maxBatchRecords must be ≥ 1 and maxBatchWaitMs ≥ 0')
    }
    this.#subscribed = true
    this.start(options)
  }

  async next(signal?: AbortSignal): Promise<BusBatch | undefined> {
    if (!this.#subscribed) throw new AppError('CONFLICT', 'subscribe() before next()')
    if (this.#taking) throw new AppError('CONFLICT', 'one next() at a time')
    const stop = signal === undefined ? this.closing.signal : AbortSignal.any([signal, this.closing.signal])
    if (stop.aborted) return undefined
    this.#taking = true
    try {
      return await this.take(stop)
    } finally {
      this.#taking = false
    }
  }

  async close(): Promise<void> {
    this.closing.abort()
    if (this.#subscribed) await (this.#finished ??= this.finish())
  }

  protected abstract start(options: ConsumeOptions): void
  /** The next batch, or undefined once `signal` aborted (then nothing is lost: it stays for the next call). */
  protected abstract take(signal: AbortSignal): Promise<BusBatch | undefined>
  /** After close(): commit what is acknowledged, leave the group. */
  protected abstract finish(): Promise<void>
}
