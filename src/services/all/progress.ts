// The short periodic line of `sensorstream all` that shows the data flowing: readings produced, stored
// and the rate. Produced is counted by wrapping the producer's publisher; stored is the streaming
// service's own counter (sensorstream_stored_total).
import type { BusPublisher } from '../../ports/bus.ts'

export interface ProgressSources {
  /** readings published so far */
  produced(): number
  /** readings newly stored so far */
  stored(): Promise<number>
}

export interface ProgressOptions extends ProgressSources {
  readonly everyMs: number
  readonly write: (line: string) => void
}

/** A publisher that counts the records it published to `topic`. */
export function countingPublisher(publisher: BusPublisher, topic: string): { publisher: BusPublisher; count(): number } {
  let count = 0
  return {
    count: () => count,
    publisher: {
      connect: () => publisher.connect(),
      close: () => publisher.close(),
      maxRecordBytes: (topic) => publisher.maxRecordBytes(topic),
      publish: async (records) => {
        await publisher.publish(records)
        for (const r of records) if (r.topic === topic) count++
      }
    }
  }
}

export function formatProgress(produced: number, stored: number, ratePerS: number): string {
  const rate = ratePerS >= 10 ? Math.round(ratePerS).toString() : ratePerS.toFixed(1)
  return `readings: ${produced} produced, ${stored} stored, ${rate}/s`
}

/** Writes a progress line every `everyMs` while the numbers change; returns the stopper. */
export function startProgress(options: ProgressOptions): () => void {
  let lastStored = 0
  let lastProduced = 0
  let lastAt = Date.now()
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    options
      .stored()
      .then((stored) => {
        const produced = options.produced()
        const now = Date.now()
        if (stored !== lastStored || produced !== lastProduced) {
          options.write(formatProgress(produced, stored, ((stored - lastStored) * 1000) / Math.max(1, now - lastAt)))
        }
        lastStored = stored
        lastProduced = produced
        lastAt = now
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false
      })
  }, options.everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
