// The in-process bus: Kafka's contract without a broker, for `sensorstream all` and tests. Topics
// have partitions, keys land where the Java client would put them, each partition keeps its order
// and offsets, and consumer groups share partitions and resume from their committed offsets.
// Bounded: each partition keeps its newest `retainRecordsPerPartition` records (like retention),
// and a consumer polls records only while the service asks for its next batch.
import type { BusAdmin, BusBatch, BusConsumer, BusPublisher, BusRecord, ConsumeOptions, OutgoingRecord, TopicSpec } from '../../ports/bus.ts'
import { recordBytes } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'
import { Checkpointer, type Checkpoint } from './checkpointer.ts'
import { PullConsumer } from './consumer-base.ts'
import { DEFAULT_MAX_RECORD_BYTES } from './kafka-client.ts'
import { partitionForKey } from './kafka-partitioner.ts'

export interface MemoryBusOptions {
  /** records kept per partition; older ones are dropped as Kafka's retention would [100 000] */
  readonly retainRecordsPerPartition?: number
  /** the largest record (`recordBytes`) any topic takes [what Kafka's default `max.message.bytes` allows] */
  readonly maxRecordBytes?: number
}

interface Partition {
  /** offset of records[0] */
  start: bigint
  records: BusRecord[]
}

interface Member {
  readonly topics: readonly string[]
  /** where partitions without a committed offset start: the end (Kafka's auto.offset.reset=latest) */
  readonly startAtEnd: boolean
  /** assigned partitions ("topic:partition") → next offset to read */
  positions: Map<string, bigint>
  readonly wake: () => void
  /** told the partitions it owns after every rebalance */
  readonly assigned: (keys: Iterable<string>) => void
}

interface KeyedCheckpoint extends Checkpoint {
  /** "topic:partition" */
  readonly key: string
}

interface Group {
  readonly committed: Map<string, bigint>
  readonly members: Member[]
}

export class MemoryBus {
  readonly #retain: number
  readonly #maxRecordBytes: number
  readonly #topics = new Map<string, Partition[]>()
  readonly #groups = new Map<string, Group>()
  readonly #roundRobin = new Map<string, number>()

  constructor(options: MemoryBusOptions = {}) {
    this.#retain = options.retainRecordsPerPartition ?? 100_000
    this.#maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  }

  publisher(): BusPublisher {
    return {
      connect: async () => {},
      close: async () => {},
      publish: async (records) => this.#append(records),
      maxRecordBytes: async () => this.#maxRecordBytes
    }
  }

  consumer(): BusConsumer {
    return new MemoryConsumer(this)
  }

  admin(): BusAdmin {
    return {
      connect: async () => {},
      close: async () => {},
      ensureTopics: async (topics) => this.#ensureTopics(topics),
      consumerLag: async (groupId, topic) => this.#lag(groupId, topic)
    }
  }

  #ensureTopics(topics: readonly TopicSpec[]): void {
    let created = false
    for (const spec of topics) {
      if (this.#topics.has(spec.name)) continue
      if (!(spec.partitions >= 1)) throw new AppError('INTERNAL', `topic ${spec.name}: partitions must be ≥ 1`)
      this.#topics.set(
        spec.name,
        Array.from({ length: spec.partitions }, () => ({ start: 0n, records: [] }))
      )
      created = true
    }
    if (created) for (const group of this.#groups.values()) this.#rebalance(group)
  }

  #append(records: readonly OutgoingRecord[]): void {
    // Validate everything first: a publish is all or nothing.
    for (const record of records) {
      if (!this.#topics.has(record.topic)) throw new AppError('NOT_FOUND', `memory bus: unknown topic ${record.topic}`)
      const size = recordBytes(record)
      if (size > this.#maxRecordBytes) {
        throw new AppError('VALIDATION_FAILED', `a record of ${size} bytes is over the ${this.#maxRecordBytes} bytes topic ${record.topic} takes`)
      }
    }
    const now = Date.now()
    for (const record of records) {
      const partitions = this.#topics.get(record.topic) as Partition[]
      const key = toBuffer(record.key)
      const index = key === null ? this.#nextRoundRobin(record.topic, partitions.length) : partitionForKey(key, partitions.length)
      const partition = partitions[index] as Partition
      partition.records.push({
        topic: record.topic,
        partition: index,
        offset: partition.start + BigInt(partition.records.length),
        key,
        value: toBuffer(record.value),
        timestampMs: record.timestampMs ?? now,
        headers: new Map(Object.entries(record.headers ?? {}))
      })
      // Trim in chunks so that appending stays O(1) amortized.
      const excess = partition.records.length - this.#retain
      if (excess >= Math.max(1, this.#retain / 4)) {
        partition.records.splice(0, excess)
        partition.start += BigInt(excess)
      }
    }
    for (const group of this.#groups.values()) for (const member of group.members) member.wake()
  }

  #nextRoundRobin(topic: string, partitions: number): number {
    const n = this.#roundRobin.get(topic) ?? 0
    this.#roundRobin.set(topic, (n + 1) % partitions)
    return n
  }

  #lag(groupId: string, topic: string): number {
    const committed = this.#groups.get(groupId)?.committed
    let lag = 0n
    for (const [index, partition] of (this.#topics.get(topic) ?? []).entries()) {
      const end = partition.start + BigInt(partition.records.length)
      const done = committed?.get(`${topic}:${index}`) ?? partition.start
      if (end > done) lag += end - done
    }
    return Number(lag)
  }

  /** @internal used by MemoryConsumer */
  join(groupId: string, member: Member): void {
    let group = this.#groups.get(groupId)
    if (group === undefined) {
      group = { committed: new Map(), members: [] }
      this.#groups.set(groupId, group)
    }
    group.members.push(member)
    this.#rebalance(group)
  }

  /** @internal */
  leave(groupId: string, member: Member): void {
    const group = this.#groups.get(groupId)
    if (group === undefined) return
    const index = group.members.indexOf(member)
    if (index >= 0) group.members.splice(index, 1)
    this.#rebalance(group)
  }

  /** @internal commits the positions of partitions the member still owns; returns how many were not */
  commit(groupId: string, member: Member, positions: readonly KeyedCheckpoint[]): number {
    const group = this.#groups.get(groupId)
    let revoked = 0
    for (const { key, offset } of positions) {
      if (group === undefined || !member.positions.has(key)) revoked++
      else group.committed.set(key, offset)
    }
    return revoked
  }

  /** @internal the member's next records, up to `max`, taking from its partitions in turn */
  poll(member: Member, max: number): BusRecord[] {
    const batch: BusRecord[] = []
    for (const [key, position] of member.positions) {
      if (batch.length >= max) break
      const [topic, index] = splitKey(key)
      const partition = this.#topics.get(topic)?.[index]
      if (partition === undefined) continue
      // Records dropped by retention are skipped, as Kafka's auto.offset.reset=earliest would.
      const from = position < partition.start ? partition.start : position
      const first = Number(from - partition.start)
      const taken = partition.records.slice(first, first + (max - batch.length))
      batch.push(...taken)
      member.positions.set(key, from + BigInt(taken.length))
    }
    return batch
  }

  #initialOffset(key: string, atEnd: boolean): bigint {
    const [topic, index] = splitKey(key)
    const partition = this.#topics.get(topic)?.[index]
    if (partition === undefined) return 0n
    return atEnd ? partition.start + BigInt(partition.records.length) : partition.start
  }

  // Round-robin assignment of every subscribed partition; a partition that changes owner starts
  // again from the group's committed offset, so uncommitted records are delivered again.
  #rebalance(group: Group): void {
    const owners = new Map<string, Member>()
    for (const [topic, partitions] of this.#topics) {
      const subscribers = group.members.filter((member) => member.topics.includes(topic))
      for (let i = 0; i < partitions.length && subscribers.length > 0; i++) {
        owners.set(`${topic}:${i}`, subscribers[i % subscribers.length] as Member)
      }
    }
    for (const member of group.members) {
      const positions = new Map<string, bigint>()
      for (const [key, owner] of owners) {
        if (owner !== member) continue
        positions.set(key, member.positions.get(key) ?? group.committed.get(key) ?? this.#initialOffset(key, member.startAtEnd))
      }
      member.positions = positions
      member.assigned(positions.keys())
      member.wake()
    }
  }
}

// As the Kafka consumer: with no batch unacknowledged, what has arrived is handed over at once;
// otherwise the next batch fills up to maxBatchRecords or maxBatchWaitMs after its first record.
// The records polled but not handed over yet stay in `#filling`; offsets are committed through the
// same Checkpointer as Kafka's.
class MemoryConsumer extends PullConsumer {
  readonly #bus: MemoryBus
  readonly #checkpointer = new Checkpointer<KeyedCheckpoint>()
  #options: ConsumeOptions | undefined
  #member: Member | undefined
  #filling: BusRecord[] = []
  /** when the batch being filled is handed over at the latest */
  #deadline = Infinity
  #wakeUp: (() => void) | undefined

  constructor(bus: MemoryBus) {
    super()
    this.#bus = bus
  }

  protected start(options: ConsumeOptions): void {
    this.#options = options
    this.#member = {
      topics: [...options.topics],
      startAtEnd: options.fromBeginning === false,
      positions: new Map(),
      wake: () => this.#wakeUp?.(),
      assigned: (keys) => this.#checkpointer.assign(keys)
    }
    this.#bus.join(options.groupId, this.#member)
  }

  protected async take(signal: AbortSignal): Promise<BusBatch | undefined> {
    const options = this.#options as ConsumeOptions
    const member = this.#member as Member
    while (!signal.aborted) {
      const more = this.#bus.poll(member, options.maxBatchRecords - this.#filling.length)
      if (more.length > 0 && this.#filling.length === 0) this.#deadline = Date.now() + options.maxBatchWaitMs
      this.#filling.push(...more)
      const idle = this.#checkpointer.pending === 0
      if (this.#filling.length > 0 && (idle || this.#filling.length >= options.maxBatchRecords || Date.now() >= this.#deadline)) return this.#handOver()
      await this.#wake(signal, idle ? Infinity : this.#deadline - Date.now())
    }
    return undefined
  }

  protected async finish(): Promise<void> {
    // The batch being filled is not handed over (not committed: delivered again).
    this.#filling = []
    this.#bus.leave((this.#options as ConsumeOptions).groupId, this.#member as Member)
  }

  #handOver(): BusBatch {
    const records = this.#filling
    this.#filling = []
    this.#deadline = Infinity
    const release = this.#checkpointer.track(nextPositions(records))
    const { groupId } = this.#options as ConsumeOptions
    return {
      records,
      ack: () => {
        if (this.closing.signal.aborted) return
        const committable = release()
        if (committable.length > 0) this.#bus.commit(groupId, this.#member as Member, committable)
        // Nothing in hand any more: a next() waiting to fill up hands over what it has at once.
        if (this.#checkpointer.pending === 0) this.#wakeUp?.()
      }
    }
  }

  /** Resolves on a wake-up (records, a rebalance, the last ack), after `ms`, or when `signal` aborts. */
  #wake(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        if (this.#wakeUp === done) this.#wakeUp = undefined
        resolve()
      }
      if (ms !== Infinity) timer = setTimeout(done, Math.max(0, ms))
      this.#wakeUp = done
      signal.addEventListener('abort', done, { once: true })
    })
  }
}

/** Per partition of the batch, the position past its records. */
function nextPositions(batch: readonly BusRecord[]): Map<string, KeyedCheckpoint> {
  const positions = new Map<string, KeyedCheckpoint>()
  for (const record of batch) {
    const key = `${record.topic}:${record.partition}`
    const offset = record.offset + 1n
    if ((positions.get(key)?.offset ?? -1n) < offset) positions.set(key, { key, offset })
  }
  return positions
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf(':')
  return [key.slice(0, at), Number(key.slice(at + 1))]
}

function toBuffer(data: string | Buffer | null): Buffer | null {
  if (data === null) return null
  return typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
}
