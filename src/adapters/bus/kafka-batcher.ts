// Cuts a @platformatic/kafka message stream into batches of at most `maxRecords`, handed over
// `maxWaitMs` after their first record at the latest. It pulls messages with read() (paused mode)
// only while it is filling a batch: the stream fetches only when its buffer is below highWaterMark,
// so at most the batches in hand plus the stream's buffer (highWaterMark messages and one fetch
// response) are held in memory. (Flowing mode with pause()/resume() is not bounded: the client's
// resume() starts a fetch whatever its buffer holds, so the buffer grew by a fetch per batch.)
import type { Message, MessagesStream } from '@platformatic/kafka'
import type { BusRecord } from '../../ports/bus.ts'

type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>
type Waiter = { resolve: (batch: KafkaBatch | undefined) => void; reject: (err: unknown) => void }

export interface CommitPosition {
  readonly topic: string
  readonly partition: number
  /** the next offset to read: Kafka's commit convention (last handled offset + 1) */
  readonly offset: bigint
  readonly leaderEpoch: number
}

export interface KafkaBatch {
  readonly records: readonly BusRecord[]
  readonly commits: readonly CommitPosition[]
}

/** What the batcher keeps per partition: no object is made per message for offsets. */
interface PartitionState {
  readonly topic: string
  readonly partition: number
  /**
   * The last offset handed over, across batches of this stream. After a rebalance the stream
   * re-reads from the committed offset while older fetched records may still sit in its buffer;
   * records at or below it were already handed over and are dropped, but their offsets still go
   * into the batch's commits: the batch that carried them may have lost its commit to the
   * rebalance, and commits run in batch order, so that batch is stored before this one commits.
   */
  handled: bigint
  /** the highest offset of the batch being filled (commit it + 1), or undefined when none */
  highest: bigint | undefined
  /** the leader epoch of that offset's message */
  leaderEpoch: number
}

export class StreamBatcher {
  readonly #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>
  readonly #maxRecords: number
  readonly #maxWaitMs: number
  #records: BusRecord[] = []
  readonly #partitions = new Map<string, PartitionState>()
  /** partitions with offsets in the batch being filled */
  #touched: PartitionState[] = []
  /** the partition of the previous message: messages come in runs of one partition */
  #last: PartitionState | undefined
  #timer: NodeJS.Timeout | undefined
  #ready = false
  /** a batch was handed over and next() was not called again yet: do not read */
  #paused = false
  #eager = false
  #stopped = false
  #failure: unknown
  #waiter: Waiter | undefined
  #failed: (err: unknown) => void = () => {}
  /** resolves with the error once the stream failed (or fail() was called); never after stop() */
  readonly failed = new Promise<unknown>((resolve) => (this.#failed = resolve))

  constructor(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>, maxRecords: number, maxWaitMs: number) {
    this.#stream = stream
    this.#maxRecords = maxRecords
    this.#maxWaitMs = maxWaitMs
    stream.on('readable', () => this.#drain())
    stream.on('error', (err: unknown) => this.fail(err))
    stream.on('close', () => this.fail(new Error('kafka message stream closed')))
  }

  /**
   * The next batch: filling it starts now (nothing is read from the stream while no one asks).
   * Undefined once stop() was called or when `signal` aborts (what was read stays for the next
   * call); rejects once the stream failed.
   */
  next(signal?: AbortSignal): Promise<KafkaBatch | undefined> {
    if (this.#stopped || signal?.aborted === true) return Promise.resolve(undefined)
    if (this.#ready) return Promise.resolve(this.#take())
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const batch = new Promise<KafkaBatch | undefined>((resolve, reject) => {
      const cancel = (): void => {
        if (this.#waiter !== waiter) return
        this.#waiter = undefined
        resolve(undefined)
      }
      const waiter: Waiter = {
        resolve: (b) => {
          signal?.removeEventListener('abort', cancel)
          resolve(b)
        },
        reject: (err) => {
          signal?.removeEventListener('abort', cancel)
          reject(err)
        }
      }
      this.#waiter = waiter
      signal?.addEventListener('abort', cancel, { once: true })
    })
    this.#paused = false
    this.#drain()
    return batch
  }

  /**
   * Eager: nothing is in hand, so a batch is handed over as soon as the stream's buffer is drained,
   * without waiting to fill up or for maxWaitMs. Batches then grow with the load by themselves
   * (whatever arrives while the previous batch is written): low delay when quiet, full batches
   * when busy.
   */
  setEager(eager: boolean): void {
    this.#eager = eager
    if (eager) this.#drain()
  }

  /** No more batches: a waiting next() resolves undefined; records not yet handed over are dropped. */
  stop(): void {
    this.#stopped = true
    this.#clearTimer()
    this.#settle((waiter) => waiter.resolve(undefined))
  }

  /** Reads buffered messages into the batch being filled, until it is full or the buffer is empty. */
  #drain(): void {
    while (!this.#paused && !this.#ready && !this.#stopped && this.#failure === undefined) {
      const message = this.#stream.read() as KafkaMessage | null
      if (message === null) {
        if (this.#eager && !this.#isEmpty()) this.#markReady()
        return
      }
      this.#add(message)
    }
  }

  fail(err: unknown): void {
    if (this.#stopped || this.#failure !== undefined) return
    this.#failure = err
    this.#failed(err)
    this.#clearTimer()
    this.#settle((waiter) => waiter.reject(err))
  }

  #add(message: KafkaMessage): void {
    if (this.#stopped || this.#failure !== undefined) return
    const state = this.#partitionOf(message)
    if (state.highest === undefined) this.#touched.push(state)
    if (state.highest === undefined || state.highest < message.offset) {
      state.highest = message.offset
      state.leaderEpoch = message.leaderEpoch
    }
    if (message.offset > state.handled) {
      state.handled = message.offset
      this.#records.push(toBusRecord(message))
    }
    if (this.#records.length >= this.#maxRecords) this.#markReady()
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.#markReady(), this.#maxWaitMs)
  }

  #partitionOf(message: KafkaMessage): PartitionState {
    const last = this.#last
    if (last !== undefined && last.partition === message.partition && last.topic === message.topic) return last
    const key = `${message.topic}:${message.partition}`
    let state = this.#partitions.get(key)
    if (state === undefined) {
      state = { topic: message.topic, partition: message.partition, handled: -1n, highest: undefined, leaderEpoch: message.leaderEpoch }
      this.#partitions.set(key, state)
    }
    this.#last = state
    return state
  }

  /** A batch may carry commits only (records re-read after a rebalance, dropped). */
  #isEmpty(): boolean {
    return this.#records.length === 0 && this.#touched.length === 0
  }

  #markReady(): void {
    this.#clearTimer()
    if (this.#ready || this.#isEmpty()) return
    // No more reads until next(): the rest of the buffer waits for the next batch.
    this.#paused = true
    this.#ready = true
    const waiter = this.#waiter
    if (waiter !== undefined) {
      this.#waiter = undefined
      waiter.resolve(this.#take())
    }
  }

  #take(): KafkaBatch {
    const commits = this.#touched.map((p): CommitPosition => {
      const offset = (p.highest as bigint) + 1n
      p.highest = undefined
      return { topic: p.topic, partition: p.partition, offset, leaderEpoch: p.leaderEpoch }
    })
    const batch = { records: this.#records, commits }
    this.#records = []
    this.#touched = []
    this.#ready = false
    return batch
  }

  #settle(action: (waiter: Waiter) => void): void {
    const waiter = this.#waiter
    this.#waiter = undefined
    if (waiter !== undefined) action(waiter)
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

/** Shared by every record without headers (most of them): one Map less per record. */
const NO_HEADERS: ReadonlyMap<string, string> = new Map()

export function toBusRecord(message: KafkaMessage): BusRecord {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: (message.key as Buffer | undefined) ?? null,
    value: (message.value as Buffer | undefined) ?? null,
    timestampMs: Number(message.timestamp),
    headers: message.headers.size === 0 ? NO_HEADERS : stringHeaders(message.headers as Map<Buffer | undefined, Buffer | undefined>)
  }
}

// Without deserializers the client hands over raw buffers; an absent key or value is undefined.
function stringHeaders(raw: Map<Buffer | undefined, Buffer | undefined>): ReadonlyMap<string, string> {
  const headers = new Map<string, string>()
  for (const [name, value] of raw) headers.set(name?.toString('utf8') ?? '', value?.toString('utf8') ?? '')
  return headers
}
