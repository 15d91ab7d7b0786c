// A consumer loop for tests: pulls one batch at a time, hands it to `handler`, acknowledges it once
// the handler resolved. stop() lets the batch in hand finish and be acknowledged, then closes the
// consumer; a handler rejection closes it without acknowledging and makes `done` reject.
import type { BusConsumer, BusRecord, ConsumeOptions } from '../../src/ports/bus.ts'

export interface ConsumeLoop {
  /** resolves once stopped (or the consumer was closed), rejects with the handler's or the bus's failure */
  readonly done: Promise<void>
  stop(): Promise<void>
}

export function consumeEach(consumer: BusConsumer, options: ConsumeOptions, handler: (batch: readonly BusRecord[]) => Promise<void>): ConsumeLoop {
  const stopping = new AbortController()
  consumer.subscribe(options)
  const done = (async () => {
    try {
      for (;;) {
        const batch = await consumer.next(stopping.signal)
        if (batch === undefined) return
        await handler(batch.records)
        batch.ack()
      }
    } finally {
      await consumer.close()
    }
  })()
  return {
    done,
    stop: async () => {
      stopping.abort()
      await done.catch(() => undefined)
    }
  }
}
