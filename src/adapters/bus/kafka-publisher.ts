// BusPublisher on Kafka: idempotent producer, acks from all in-sync replicas, and the Java client's
// key → partition mapping so that every Kafka client puts a sensor on the same partition.
import { Admin, compatibilityPartitioner, ConfigResourceTypes, ProduceAcks, Producer, type MessageToProduce } from '@platformatic/kafka'
import { recordBytes, type BusPublisher, type OutgoingRecord } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { baseClientOptions, DEFAULT_MAX_RECORD_BYTES, RECORD_BATCH_HEADER_BYTES, type KafkaBusOptions } from './kafka-client.ts'
import { isPermanentKafkaError, isTooLarge, toAppError } from './kafka-errors.ts'
import { sendByPartition } from './kafka-partitioned-send.ts'

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>

export class KafkaBusPublisher implements BusPublisher {
  readonly #options: KafkaBusOptions
  readonly #logger: Logger
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined
  /** asks topic configs (`max.message.bytes`), which a producer cannot */
  #admin: Admin | undefined
  readonly #limits = new Map<string, Promise<number>>()
  readonly #partitioner = javaCompatiblePartitioner()
  #closed = false

  constructor(options: KafkaBusOptions) {
    this.#options = options
    this.#logger = options.logger.child({ component: 'kafka-publisher' })
  }

  /** Opens the producer and checks that the cluster answers (rejects with a retryable AppError if not). */
  async connect(): Promise<void> {
    const producer = this.#open()
    try {
      await producer.metadata({ topics: [] })
    } catch (err) {
      throw toAppError(err, 'connect')
    }
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return
    const producer = this.#open()
    const limits = await this.#limitsOf(new Set(records.map((record) => record.topic)))
    const sizes = records.map((record) => {
      const size = recordBytes(record)
      const limit = limits.get(record.topic) as number
      if (size > limit) throw new AppError('VALIDATION_FAILED', `a record of ${size} bytes is over the ${limit} bytes topic ${record.topic} takes`)
      return size
    })
    const now = BigInt(Date.now())
    // As few sends as the limits allow: the client groups one send into one produce request per
    // broker, which is what makes thousands of records per call cheap.
    const messages = records.map((record) => toMessage(record, now))
    try {
      const requests = await this.#withinLimits(producer, messages, sizes, limits)
      // Sequential sends keep per-key order when the call has to be split.
      for (const request of requests) for (const chunk of timestampWindows(request)) await sendByPartition(producer, chunk, this.#partitioner)
    } catch (err) {
      this.#logger.warn({ err, records: records.length }, 'kafka publish failed')
      if (isTooLarge(err) && (await this.#limitsShrank(limits))) {
        throw new AppError('UNAVAILABLE', 'kafka publish: a topic limit changed; sending again within the new one', { cause: err, retryable: true })
      }
      throw toAppError(err, 'publish')
    }
  }

  /** The topic's `max.message.bytes` less a batch's header, asked of the cluster once per topic. */
  maxRecordBytes(topic: string): Promise<number> {
    let limit = this.#limits.get(topic)
    if (limit === undefined) {
      limit = this.#describeLimit(topic)
      this.#limits.set(topic, limit)
      limit.catch(() => this.#limits.delete(topic))
    }
    return limit
  }

  async #limitsOf(names: Iterable<string>): Promise<Map<string, number>> {
    const topics = [...names]
    const limits = await Promise.all(topics.map((topic) => this.maxRecordBytes(topic)))
    return new Map(topics.map((topic, i) => [topic, limits[i] as number]))
  }

  async #describeLimit(topic: string): Promise<number> {
    try {
      const [description] = await this.#openAdmin().describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['max.message.bytes'] }]
      })
      const value = Number(description?.configs.find((config) => config.name === 'max.message.bytes')?.value)
      if (Number.isSafeInteger(value) && value > RECORD_BATCH_HEADER_BYTES) return value - RECORD_BATCH_HEADER_BYTES
      this.#logger.warn({ topic }, "kafka did not say the topic's max.message.bytes; assuming the default")
    } catch (err) {
      // Not allowed to describe configs: the default it is. Unreachable: the publish is retried.
      if (!isPermanentKafkaError(err)) throw toAppError(err, 'describeConfigs')
      this.#logger.warn({ topic, err }, "cannot read the topic's max.message.bytes; assuming the default")
    }
    return DEFAULT_MAX_RECORD_BYTES
  }

  /** After "too large": forgets the limits used and tells whether the cluster now says less. */
  async #limitsShrank(used: ReadonlyMap<string, number>): Promise<boolean> {
    for (const topic of used.keys()) this.#limits.delete(topic)
    try {
      const fresh = await this.#limitsOf(used.keys())
      return [...used].some(([topic, limit]) => (fresh.get(topic) as number) < limit)
    } catch {
      return false
    }
  }

  /**
   * Splits the call into sends in which no partition gets more than its topic's limit (the broker
   * checks each partition's record batch). One send when the whole call fits the smallest limit.
   */
  async #withinLimits(
    producer: Producer<Buffer, Buffer, Buffer, Buffer>,
    messages: Message[],
    sizes: readonly number[],
    limits: ReadonlyMap<string, number>
  ): Promise<Message[][]> {
    let total = 0
    for (const size of sizes) total += size
    if (total <= Math.min(...limits.values())) return [messages]
    const metadata = await producer.metadata({ topics: [...limits.keys()] })
    const requests: Message[][] = []
    let request: Message[] = []
    let filled = new Map<string, number>()
    for (const [i, message] of messages.entries()) {
      const count = metadata.topics.get(message.topic)?.partitionsCount ?? 1
      message.partition = this.#partitioner(message, message.key) % count
      const where = `${message.topic}:${message.partition}`
      const size = sizes[i] as number
      const bytes = (filled.get(where) ?? 0) + size
      if (bytes > (limits.get(message.topic) as number) && request.length > 0) {
        requests.push(request)
        request = []
        filled = new Map()
      }
      request.push(message)
      filled.set(where, (filled.get(where) ?? 0) + size)
    }
    requests.push(request)
    return requests
  }

  async close(): Promise<void> {
    this.#closed = true
    const producer = this.#producer
    const admin = this.#admin
    this.#producer = undefined
    this.#admin = undefined
    await admin?.close().catch((err: unknown) => this.#logger.warn({ err }, 'kafka admin did not close cleanly'))
    if (producer === undefined) return
    try {
      await producer.close()
    } catch (err) {
      this.#logger.warn({ err }, 'kafka producer did not close cleanly')
    }
  }

  #openAdmin(): Admin {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'kafka publisher is closed')
    this.#admin ??= new Admin(baseClientOptions(this.#options))
    return this.#admin
  }

  #open(): Producer<Buffer, Buffer, Buffer, Buffer> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'kafka publisher is closed')
    this.#producer ??= new Producer<Buffer, Buffer, Buffer, Buffer>({
      ...baseClientOptions(this.#options),
      // Idempotence: the broker drops the duplicates a retried request would otherwise append,
      // and keeps per-partition order across the client's retries. Only the client's own retries
      // carry the same producer id and sequence numbers: once a send has failed, sending it again
      // is new to the broker. So the client retries long enough (about 20 s per send, backoff
      // capped at 2 s) to outlast a leader failover: Kafka fences a dead broker after
      // broker.session.timeout.ms, 9 s by default.
      retries: 14,
      idempotent: true,
      acks: ProduceAcks.ALL,
      partitioner: this.#partitioner,
      // Metadata refresh when a leader moved (broker restart), instead of failing the send.
      repeatOnStaleMetadata: true
    })
    return this.#producer
  }
}

/**
 * Keyed records: murmur2(key) & 0x7fffffff, exactly the Java client's default (the library's own
 * default uses `>>> 0`, which differs for half the keys). Records without a key are spread round-robin.
 * The client takes the result modulo the topic's partition count.
 */
function javaCompatiblePartitioner(): (message: Message, key: Buffer | undefined) => number {
  const next = new Map<string, number>()
  return (message, key) => {
    if (key !== undefined) return compatibilityPartitioner(message, key)
    const n = next.get(message.topic) ?? 0
    next.set(message.topic, (n + 1) % 0x7fffffff)
    return n
  }
}

// @platformatic/dynamic-buffer 0.3.1 zigzag-encodes 64-bit varints with `>> 31n` instead of `>> 63n`,
// so a record whose timestamp is 2^31 ms (~25 days) or more away from the first record of its batch
// gets a wrong timestamp on the wire. Records are therefore sent in runs whose timestamps all lie
// within that window (nearly always one run).
const MAX_TIMESTAMP_SPREAD = 2n ** 31n - 1n

function timestampWindows(messages: Message[]): Message[][] {
  const windows: Message[][] = []
  let current: Message[] = []
  let min = 0n
  let max = 0n
  for (const message of messages) {
    const ts = message.timestamp as bigint
    if (current.length > 0 && (ts - min > MAX_TIMESTAMP_SPREAD || max - ts > MAX_TIMESTAMP_SPREAD)) {
      windows.push(current)
      current = []
    }
    if (current.length === 0) min = max = ts
    else if (ts < min) min = ts
    else if (ts > max) max = ts
    current.push(message)
  }
  if (current.length > 0) windows.push(current)
  return windows
}

function toMessage(record: OutgoingRecord, now: bigint): Message {
  if (record.topic.length === 0) throw new AppError('INTERNAL', 'kafka publish: record without a topic')
  const message: Message = {
    topic: record.topic,
    key: toBuffer(record.key),
    // The client expects `value` to be present; null is written as a Kafka null value (tombstone).
    value: toBuffer(record.value) ?? (null as unknown as Buffer)
  }
  if (record.headers !== undefined) {
    const headers = new Map<Buffer, Buffer>()
    for (const [name, value] of Object.entries(record.headers)) headers.set(Buffer.from(name), Buffer.from(value))
    message.headers = headers
  }
  message.timestamp = record.timestampMs === undefined ? now : BigInt(Math.trunc(record.timestampMs))
  return message
}

function toBuffer(data: string | Buffer | null): Buffer | undefined {
  if (data === null) return undefined
  return typeof data === 'string' ? Buffer.from(data) : data
}
