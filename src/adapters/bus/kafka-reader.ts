// BusReader on Kafka: reads offset ranges of a topic with a consumer of its own (a unique group id,
// assigned exactly the partitions asked for, never committing), so that a replay neither moves nor
// disturbs the streaming service's group. Offsets come from the admin client (ListOffsets).
import { randomUUID } from 'node:crypto'
import { Admin, Consumer, FetchIsolationLevels, ListOffsetTimestamps, MessagesStreamModes, type Message, type MessagesStream } from '@platformatic/kafka'
import type { BusRecord } from '../../ports/bus.ts'
import type { BusReader, PartitionOffsets, PartitionRange, ReadOptions } from '../../ports/bus-reader.ts'
import type { Logger } from '../../platform/logger.ts'
import { baseClientOptions, type KafkaBusOptions } from './kafka-client.ts'
import { toBusRecord } from './kafka-batcher.ts'
import { isUnknownTopic, toAppError } from './kafka-errors.ts'

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>
type KafkaStream = MessagesStream<Buffer, Buffer, Buffer, Buffer>

export class KafkaBusReader implements BusReader {
  readonly #options: KafkaBusOptions
  readonly #logger: Logger
  #admin: Admin | undefined

  constructor(options: KafkaBusOptions) {
    this.#options = options
    this.#logger = options.logger.child({ component: 'kafka-reader' })
  }

  async connect(): Promise<void> {
    try {
      await this.#open().metadata({ topics: [] })
    } catch (err) {
      throw toAppError(err, 'connect')
    }
  }

  async close(): Promise<void> {
    const admin = this.#admin
    this.#admin = undefined
    await admin?.close().catch((err: unknown) => this.#logger.warn({ err }, 'kafka admin did not close cleanly'))
  }

  async offsets(topic: string): Promise<readonly PartitionOffsets[]> {
    try {
      const count = await this.#partitionsCount(topic)
      if (count === 0) return []
      const [starts, ends] = await Promise.all([
        this.#listOffsets(topic, count, ListOffsetTimestamps.EARLIEST),
        this.#listOffsets(topic, count, ListOffsetTimestamps.LATEST)
      ])
      return Array.from({ length: count }, (_, partition) => ({ partition, start: starts.get(partition) ?? 0n, end: ends.get(partition) ?? 0n }))
    } catch (err) {
      throw toAppError(err, 'offsets')
    }
  }

  async offsetsForTime(topic: string, timestampMs: number): Promise<ReadonlyMap<number, bigint>> {
    try {
      const count = await this.#partitionsCount(topic)
      if (count === 0) return new Map()
      const [found, ends] = await Promise.all([
        this.#listOffsets(topic, count, BigInt(Math.max(0, Math.floor(timestampMs)))),
        this.#listOffsets(topic, count, ListOffsetTimestamps.LATEST)
      ])
      // No record at or after the time: Kafka answers -1, which means "from the end".
      return new Map(
        [...ends].map(([partition, end]) => {
          const offset = found.get(partition)
          return [partition, offset !== undefined && offset >= 0n ? offset : end]
        })
      )
    } catch (err) {
      throw toAppError(err, 'offsetsForTime')
    }
  }

  async *read(topic: string, ranges: readonly PartitionRange[], options: ReadOptions): AsyncIterable<readonly BusRecord[]> {
    const remaining = new Map(ranges.filter((r) => r.to > r.from).map((r) => [r.partition, r]))
    if (remaining.size === 0) return
    const partitions = [...remaining.keys()]
    const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...baseClientOptions(this.#options),
      groupId: `${this.#options.clientId}-reader-${randomUUID()}`,
      autocommit: false,
      maxBytes: 1024 * 1024,
      maxWaitTime: 500,
      highWaterMark: Math.max(16, Math.min(options.maxBatchRecords, 1_000)),
      isolationLevel: FetchIsolationLevels.READ_COMMITTED
    })
    consumer.on('error', (err: unknown) => this.#logger.warn({ err }, 'kafka reader group error'))
    try {
      let stream: KafkaStream
      try {
        stream = await consumer.consume({
          topics: [topic],
          mode: MessagesStreamModes.MANUAL,
          offsets: [...remaining.values()].map((r) => ({ topic, partition: r.partition, offset: r.from })),
          // The group is this reader alone: it takes exactly the partitions asked for.
          partitionAssigner: (current, members) =>
            [...members.keys()].map((memberId) => ({
              memberId,
              assignments: new Map(memberId === current ? [[topic, { topic, partitions }]] : [])
            }))
        })
      } catch (err) {
        throw toAppError(err, 'read')
      }
      const events = new StreamSignal(stream)
      let batch: BusRecord[] = []
      while (remaining.size > 0 && options.signal?.aborted !== true) {
        const message = stream.read() as KafkaMessage | null
        if (message === null) {
          // Everything fetched has been read: a partition whose next fetch is past its range is done
          // (its last offsets may be transaction markers, which are never delivered as records).
          for (const [partition, range] of remaining) {
            if ((stream.offsetsToFetch.get(`${topic}:${partition}`) ?? -1n) >= range.to) remaining.delete(partition)
          }
          if (remaining.size === 0) break
          if (batch.length > 0) {
            yield batch
            batch = []
            continue
          }
          await events.next(options.signal)
          continue
        }
        const range = remaining.get(message.partition)
        if (range === undefined || message.offset < range.from) continue
        if (message.offset >= range.to) {
          remaining.delete(message.partition)
          continue
        }
        batch.push(toBusRecord(message))
        if (message.offset >= range.to - 1n) remaining.delete(message.partition)
        if (batch.length >= options.maxBatchRecords) {
          yield batch
          batch = []
        }
      }
      // Stopped: what was not handed over is not, so that the caller stops at once.
      if (batch.length > 0 && options.signal?.aborted !== true) yield batch
    } finally {
      await consumer.close(true).catch((err: unknown) => this.#logger.warn({ err }, 'kafka reader did not close cleanly'))
    }
  }

  /** 0 for a topic that does not exist. */
  async #partitionsCount(topic: string): Promise<number> {
    try {
      const metadata = await this.#open().metadata({ topics: [topic] })
      return metadata.topics.get(topic)?.partitionsCount ?? 0
    } catch (err) {
      if (isUnknownTopic(err)) return 0
      throw err
    }
  }

  async #listOffsets(topic: string, count: number, timestamp: bigint): Promise<Map<number, bigint>> {
    const listed = await this.#open().listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp })) }],
      isolationLevel: FetchIsolationLevels.READ_COMMITTED
    })
    return new Map((listed[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]))
  }

  #open(): Admin {
    this.#admin ??= new Admin(baseClientOptions(this.#options))
    return this.#admin
  }
}

/**
 * Wakes the reader when the stream has records or fails. Its 'readable' listener stays attached for
 * the whole read: the client fetches only while the stream has a consumer (readableFlowing not
 * null), and a read() made while no listener was attached left the stream waiting for good.
 */
class StreamSignal {
  #wake: (() => void) | undefined
  #failure: unknown

  constructor(stream: KafkaStream) {
    stream.on('readable', () => this.#notify())
    stream.on('error', (err: unknown) => this.#fail(err))
    stream.on('close', () => this.#fail(new Error('kafka message stream closed')))
  }

  /** Resolves at the next 'readable' or when `signal` aborts; rejects once the stream failed. */
  async next(signal: AbortSignal | undefined): Promise<void> {
    if (this.#failure !== undefined) throw toAppError(this.#failure, 'read')
    if (signal?.aborted === true) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done)
        this.#wake = undefined
        resolve()
      }
      this.#wake = done
      signal?.addEventListener('abort', done, { once: true })
    })
    if (this.#failure !== undefined) throw toAppError(this.#failure, 'read')
  }

  #notify(): void {
    this.#wake?.()
  }

  #fail(err: unknown): void {
    this.#failure ??= err
    this.#notify()
  }
}
