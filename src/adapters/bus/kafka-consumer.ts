// BusConsumer on Kafka: a consumer-group member that hands batches to the handler one at a time and
// commits the offsets past a batch only after the handler resolved. Broker outages are waited out:
// when the client gives up, the member is dropped and a new one joins again with backoff, resuming
// from the committed offsets, so no record is skipped (some may be delivered twice, by design).
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, type CallbackWithPromise, type GroupOptions, type MessagesStream } from '@platformatic/kafka'
import type { BatchHandler, ConsumeOptions } from '../../ports/bus.ts'
import { SingleRunConsumer } from './consumer-base.ts'
import type { Logger } from '../../platform/logger.ts'
import { sleep } from '../../platform/retry.ts'
import { backoffMs, baseClientOptions, type KafkaBusOptions } from './kafka-client.ts'
import { StreamBatcher, type CommitPosition, type KafkaBatch } from './kafka-batcher.ts'
import { errorText, isPermanentKafkaError, isRebalanceError, toAppError } from './kafka-errors.ts'

export interface KafkaBusConsumerOptions extends KafkaBusOptions {
  /** a member silent this long is removed from the group [10 000] */
  readonly sessionTimeoutMs?: number
  /** how long close() waits for the batch in hand, its commit and leaving the group [5 000] */
  readonly closeTimeoutMs?: number
}

type KafkaStream = MessagesStream<Buffer, Buffer, Buffer, Buffer>

/** What a commit refused by a rebalance rejects with once GroupMember has kept it from rejoining. */
class RejoinLeftToHeartbeat extends Error {
  constructor() {
    super('commit refused by a rebalance; the heartbeat rejoins the group')
  }
}

/**
 * The client answers a commit refused by a rebalance (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION…)
 * by calling joinGroup() itself and committing again; its heartbeat rejoins on the same refusal.
 * The member then joins twice for one rebalance, and a JoinGroup from the group's leader while the
 * group is stable starts another rebalance, which refuses the next commits: a rebalance every
 * heartbeat interval with the same assignment (docs/upstream/platformatic-kafka-commit-rejoin.md).
 * Once consume() has joined, the commit path is the only caller of the public joinGroup(): it is
 * refused, so that the heartbeat alone rejoins, and the refused batch is redelivered.
 */
class GroupMember extends Consumer<Buffer, Buffer, Buffer, Buffer> {
  #joined = false

  /** From now on joinGroup() refuses (see the class comment). */
  joinedByConsume(): void {
    this.#joined = true
  }

  override joinGroup(options: GroupOptions, callback: CallbackWithPromise<string>): void
  override joinGroup(options: GroupOptions): Promise<string>
  override joinGroup(options: GroupOptions, callback?: CallbackWithPromise<string>): void | Promise<string> {
    if (!this.#joined) return callback === undefined ? super.joinGroup(options) : super.joinGroup(options, callback)
    if (callback === undefined) return Promise.reject(new RejoinLeftToHeartbeat())
    callback(new RejoinLeftToHeartbeat(), '')
  }
}

type KafkaConsumer = GroupMember

/** The handler's own failure, carried through the loop untouched. */
class HandlerFailure {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

export class KafkaBusConsumer extends SingleRunConsumer {
  readonly #options: KafkaBusConsumerOptions
  readonly #logger: Logger

  constructor(options: KafkaBusConsumerOptions) {
    super()
    this.#options = options
    this.#logger = options.logger.child({ component: 'kafka-consumer' })
  }

  protected async loop(options: ConsumeOptions, handler: BatchHandler): Promise<void> {
    const signal = this.closing.signal
    for (let attempt = 1; !signal.aborted; attempt++) {
      const consumer = this.#createConsumer(options)
      // Joining can take as long as the client's retries: closing the client cuts it short.
      const abortJoin = (): void => void consumer.close(true).catch(() => undefined)
      signal.addEventListener('abort', abortJoin, { once: true })
      try {
        const stream = await consumer.consume({
          topics: [...options.topics],
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: options.fromBeginning === false ? MessagesStreamFallbackModes.LATEST : MessagesStreamFallbackModes.EARLIEST
        })
        signal.removeEventListener('abort', abortJoin)
        consumer.joinedByConsume()
        attempt = 0
        await this.#pump(consumer, stream, options, handler)
      } catch (err) {
        signal.removeEventListener('abort', abortJoin)
        if (err instanceof HandlerFailure) {
          // Leave the group before rejecting, so that another member takes the partitions over at once.
          await this.#shutdown(consumer)
          throw err.error
        }
        if (!signal.aborted) {
          if (isPermanentKafkaError(err)) {
            await this.#shutdown(consumer)
            throw toAppError(err, 'consume')
          }
          const delay = backoffMs(Math.max(attempt, 1), 500, 10_000)
          this.#logger.warn({ err: errorText(err), retryInMs: delay }, 'kafka consumer lost the broker; rejoining')
          await this.#shutdown(consumer)
          await sleep(delay, signal)
          continue
        }
      }
      await this.#shutdown(consumer)
    }
  }

  /**
   * Hands batches to the handler, up to `maxInFlightBatches` at once, and commits each batch's
   * offsets once it and every earlier batch have been handled, in batch order. Fetching pauses while
   * that many batches are in hand, so memory holds at most that many batches plus one fetch.
   */
  async #pump(consumer: KafkaConsumer, stream: KafkaStream, options: ConsumeOptions, handler: BatchHandler): Promise<void> {
    const signal = this.closing.signal
    const maxInFlight = Math.max(1, Math.floor(options.maxInFlightBatches ?? 1))
    const batcher = new StreamBatcher(stream, options.maxBatchRecords, options.maxBatchWaitMs)
    const stop = (): void => batcher.stop()
    // The client emits 'error' when rejoining the group failed for good: this member is lost.
    const lost = (err: unknown): void => batcher.fail(err)
    signal.addEventListener('abort', stop, { once: true })
    consumer.on('error', lost)
    if (signal.aborted) stop()
    type Handled = { readonly kind: 'handled'; readonly error?: { readonly cause: unknown } }
    type Next = { readonly kind: 'next'; readonly batch: KafkaBatch | undefined } | { readonly kind: 'lost'; readonly error: unknown }
    const inFlight: { readonly handled: Promise<Handled>; readonly commits: readonly CommitPosition[] }[] = []
    let next: Promise<Next> | undefined
    let stopped = false
    try {
      for (;;) {
        if (!stopped && next === undefined && inFlight.length < maxInFlight) next = batcher.next().then(
          (batch): Next => ({ kind: 'next', batch }),
          (error: unknown): Next => ({ kind: 'lost', error })
        )
        const oldest = inFlight[0]
        if (next === undefined && oldest === undefined) return
        // Nothing in hand: hand over what has arrived at once rather than wait for a full batch.
        batcher.setEager(oldest === undefined)
        const event: Handled | Next = await Promise.race([...(next === undefined ? [] : [next]), ...(oldest === undefined ? [] : [oldest.handled])])
        if (event.kind === 'lost') {
          // The stream failed: let the batches in hand finish (uncommitted, they are redelivered) so
          // that they do not overlap with the redelivery, then rejoin.
          await Promise.all(inFlight.map((b) => b.handled))
          throw event.error
        }
        if (event.kind === 'next') {
          next = undefined
          if (event.batch === undefined) {
            // Stopped: commit what is in hand, then return.
            stopped = true
            continue
          }
          // A batch of re-read records only (see StreamBatcher) has nothing to handle, only commits.
          const records = event.batch.records
          const handled = (records.length === 0 ? Promise.resolve() : handler(records, { signal })).then(
            (): Handled => ({ kind: 'handled' }),
            (cause: unknown): Handled => ({ kind: 'handled', error: { cause } })
          )
          inFlight.push({ handled, commits: event.batch.commits })
          // Room for another batch: fetch it while this one is being handled.
          if (inFlight.length < maxInFlight) batcher.resume()
          continue
        }
        inFlight.shift()
        if (event.error !== undefined) {
          // Later batches are not committed: wait for them to settle, then stop with the error.
          await Promise.all(inFlight.map((b) => b.handled))
          throw new HandlerFailure(event.error.cause)
        }
        await this.#commit(consumer, (oldest as { commits: readonly CommitPosition[] }).commits)
        batcher.resume()
      }
    } finally {
      signal.removeEventListener('abort', stop)
    }
  }

  /**
   * Commits the positions past a handled batch, retrying through broker outages. Partitions that a
   * rebalance moved to another member are not committed (their new owner may be further already);
   * the new owner redelivers from the previous commit, which the idempotent data path absorbs.
   */
  async #commit(consumer: KafkaConsumer, commits: readonly CommitPosition[]): Promise<void> {
    const signal = this.closing.signal
    let giveUpAt = Number.POSITIVE_INFINITY
    for (let attempt = 1; ; attempt++) {
      const offsets = [...commits]
      dropUnowned(consumer, offsets)
      if (offsets.length < commits.length) {
        this.#logger.info({ revoked: commits.length - offsets.length }, 'partitions revoked before commit; their new owner redelivers them')
      }
      if (offsets.length === 0) return
      try {
        await consumer.commit({ offsets })
        return
      } catch (err) {
        if (err instanceof RejoinLeftToHeartbeat || isRebalanceError(err)) {
          this.#logger.warn({ err: errorText(err) }, 'commit refused after a rebalance; records will be redelivered')
          return
        }
        if (isPermanentKafkaError(err)) throw err
        // Closing: keep trying a little (a restart redelivers what is not committed, harmlessly).
        if (signal.aborted && giveUpAt === Number.POSITIVE_INFINITY) giveUpAt = Date.now() + this.#closeTimeoutMs() / 2
        if (Date.now() > giveUpAt) {
          this.#logger.warn({ err: errorText(err) }, 'commit failed while closing; records will be redelivered')
          return
        }
        const delay = backoffMs(attempt, 200, 5_000)
        this.#logger.warn({ err: errorText(err), retryInMs: delay }, 'kafka commit failed; retrying')
        await sleep(signal.aborted ? Math.min(delay, 500) : delay)
      }
    }
  }

  #createConsumer(options: ConsumeOptions): KafkaConsumer {
    const sessionTimeout = this.#options.sessionTimeoutMs ?? 10_000
    const consumer = new GroupMember({
      ...baseClientOptions(this.#options),
      groupId: options.groupId,
      // Offsets are committed by #commit, after the handler, never by the client.
      autocommit: false,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 5)),
      rebalanceTimeout: 30_000,
      // A bounded stream buffer and fetch size bound memory: every fetched record is decoded into
      // several objects that live until its batch is stored. 1 MiB fetches cost the broker about
      // half the CPU of 256 KiB ones (1.1–1.6 against 1.8–3.0 CPU-s per million readings, same
      // batches, same run); with the streaming worker's old generation kept tight
      // (streaming/main.ts) they fit in ~215 MB RSS (docs/performance.md).
      highWaterMark: Math.max(16, Math.min(options.maxBatchRecords, 1_000)),
      maxBytes: 1024 * 1024,
      maxBytesPerPartition: 256 * 1024,
      maxWaitTime: Math.min(1_000, Math.max(10, options.maxBatchWaitMs)),
      // Only records of committed transactions, as the Java client's read_committed.
      isolationLevel: 1
    })
    consumer.on('consumer:group:join', (event: { generationId?: number; assignments?: unknown }) =>
      this.#logger.info({ group: options.groupId, generation: event.generationId, assignments: event.assignments }, 'joined consumer group')
    )
    // Without a listener an 'error' event (a failed rejoin) would crash the process; #pump also
    // listens, to drop this member and join again.
    consumer.on('error', (err: unknown) => this.#logger.warn({ err: errorText(err) }, 'kafka consumer group error'))
    consumer.on('consumer:heartbeat:error', (event: { error: Error }) =>
      this.#logger.debug({ err: errorText(event.error) }, 'kafka heartbeat failed')
    )
    return consumer
  }

  // Closing the client closes its stream and leaves the group, so that the partitions move at once.
  async #shutdown(consumer: KafkaConsumer): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#closeTimeoutMs() / 2)
    })
    try {
      const result = await Promise.race([consumer.close(true).then(() => 'closed' as const), timeout])
      if (result === 'timeout') this.#logger.warn('kafka consumer did not leave the group in time; the broker will expire it')
    } catch (err) {
      this.#logger.warn({ err: errorText(err) }, 'kafka consumer did not close cleanly')
    } finally {
      clearTimeout(timer)
    }
  }

  #closeTimeoutMs(): number {
    return this.#options.closeTimeoutMs ?? 5_000
  }
}

/** Removes, in place, the positions of partitions this member is not assigned (keeps all while no assignment is known). */
function dropUnowned(consumer: KafkaConsumer, offsets: CommitPosition[]): void {
  const assignments = consumer.assignments
  if (assignments === null) return
  const owned = new Set<string>()
  for (const { topic, partitions } of assignments) for (const partition of partitions) owned.add(`${topic}:${partition}`)
  for (let i = offsets.length - 1; i >= 0; i--) {
    const c = offsets[i] as CommitPosition
    if (!owned.has(`${c.topic}:${c.partition}`)) offsets.splice(i, 1)
  }
}
