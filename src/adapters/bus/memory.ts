// The in-process bus: Kafka's contract without a broker, for `sensorstream all` and tests. Topics
// have partitions, keys land where the Java client would put them, each partition keeps its order
// and offsets, and consumer groups share partitions and resume from their committed offsets.
// Bounded: each partition keeps its newest `retainRecordsPerPartition` records (like retention),
// and a consumer holds at most `maxInFlightBatches` batches (and the one it fills) at a time.
import type {
  BatchHandler,
  BusAdmin,
  BusConsumer,
  BusPublisher,
  BusRecord,
  ConsumeOptions,
  OutgoingRecord,
  TopicSpec
} from '../../ports/bus.ts'
import { recordBytes } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'
import { SingleRunConsumer } from './consumer-base.ts'
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
      this.#topics.set(spec.name, Array.from({ length: spec.partitions }, () => ({ start: 0n, records: [] })))
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
  commit(groupId: string, member: Member, positions: ReadonlyMap<string, bigint>): number {
    const group = this.#groups.get(groupId)
    let revoked = 0
    for (const [key, offset] of positions) {
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
      member.wake()
    }
  }
}

/** Where a consumer's loop wakes up: a record arrived, a deadline passed, or the batch in hand settled. */
type Event = { readonly kind: 'wake' } | { readonly kind: 'handled'; readonly error?: { readonly cause: unknown } }

// As the Kafka consumer: with nothing in hand, what has arrived is handed over at once; while
// batches are in hand (up to maxInFlightBatches), the next one fills up to maxBatchRecords or
// maxBatchWaitMs after its first record; offsets are committed in batch order.
class MemoryConsumer extends SingleRunConsumer {
  readonly #bus: MemoryBus

  constructor(bus: MemoryBus) {
    super()
    this.#bus = bus
  }

  protected async loop(options: ConsumeOptions, handler: BatchHandler): Promise<void> {
    const signal = this.closing.signal
    const maxInFlight = Math.max(1, options.maxInFlightBatches ?? 1)
    let wakeUp: (() => void) | undefined
    const member: Member = {
      topics: [...options.topics],
      startAtEnd: options.fromBeginning === false,
      positions: new Map(),
      wake: () => wakeUp?.()
    }
    /** resolves on a wake-up, after `ms`, or on close; cancel() forgets it */
    const wake = (ms: number): { promise: Promise<Event>; cancel: () => void } => {
      let timer: NodeJS.Timeout | undefined
      let cancel = (): void => {}
      const promise = new Promise<Event>((resolve) => {
        cancel = (): void => {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          if (wakeUp === done) wakeUp = undefined
        }
        function done(): void {
          cancel()
          resolve({ kind: 'wake' })
        }
        if (ms !== Infinity) timer = setTimeout(done, Math.max(0, ms))
        wakeUp = done
        signal.addEventListener('abort', done, { once: true })
      })
      return { promise, cancel }
    }
    const inFlight: { readonly handled: Promise<Event>; readonly positions: Map<string, bigint> }[] = []
    let filling: BusRecord[] = []
    let deadline = Infinity
    this.#bus.join(options.groupId, member)
    try {
      for (;;) {
        if (!signal.aborted && inFlight.length < maxInFlight) {
          const more = this.#bus.poll(member, options.maxBatchRecords - filling.length)
          if (more.length > 0 && filling.length === 0) deadline = Date.now() + options.maxBatchWaitMs
          filling.push(...more)
          if (filling.length > 0 && (inFlight.length === 0 || filling.length >= options.maxBatchRecords || Date.now() >= deadline)) {
            const batch = filling
            filling = []
            deadline = Infinity
            inFlight.push({
              handled: handler(batch, { signal }).then(
                (): Event => ({ kind: 'handled' }),
                (cause: unknown): Event => ({ kind: 'handled', error: { cause } })
              ),
              positions: nextPositions(batch)
            })
            continue
          }
        }
        const oldest = inFlight[0]
        // Closing: the batch being filled is not handed over (not committed: delivered again).
        if (signal.aborted && oldest === undefined) return
        const waiting = signal.aborted ? undefined : wake(inFlight.length < maxInFlight ? deadline - Date.now() : Infinity)
        const event = await Promise.race([...(waiting === undefined ? [] : [waiting.promise]), ...(oldest === undefined ? [] : [oldest.handled])])
        waiting?.cancel()
        if (event.kind === 'wake') continue
        inFlight.shift()
        if (event.error !== undefined) {
          // Later batches are not committed: wait for them to settle, then stop with the error.
          await Promise.all(inFlight.map((b) => b.handled))
          throw event.error.cause
        }
        this.#bus.commit(options.groupId, member, (oldest as (typeof inFlight)[number]).positions)
      }
    } finally {
      this.#bus.leave(options.groupId, member)
    }
  }
}

function nextPositions(batch: readonly BusRecord[]): Map<string, bigint> {
  const positions = new Map<string, bigint>()
  for (const record of batch) positions.set(`${record.topic}:${record.partition}`, record.offset + 1n)
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
