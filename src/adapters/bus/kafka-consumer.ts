// BusConsumer on Kafka: a consumer-group member that the service pulls batches from; the offsets past
// a batch are committed once it and every earlier batch of its partitions are acknowledged (the
// Checkpointer). Broker outages are waited out: when the client gives up, the member is dropped and
// a new one joins again with backoff, resuming from the committed offsets, so no record is skipped
// (some may be delivered twice, by design).
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes, type CallbackWithPromise, type GroupOptions } from '@platformatic/kafka'
import type { BusBatch, ConsumeOptions } from '../../ports/bus.ts'
import { Checkpointer } from './checkpointer.ts'
import { PullConsumer } from './consumer-base.ts'
import type { Logger } from '../../platform/logger.ts'
import { sleep } from '../../platform/retry.ts'
import { backoffMs } from '../../platform/retry.ts'
import { baseClientOptions, type KafkaBusOptions } from './kafka-client.ts'
import { StreamBatcher, type CommitPosition, type KafkaBatch } from './kafka-batcher.ts'
import { isPermanentKafkaError, isRebalanceError, toAppError } from './kafka-errors.ts'

export interface KafkaBusConsumerOptions extends KafkaBusOptions {
  /** a member silent this long is removed from the group [10 000] */
  readonly sessionTimeoutMs?: number
  /** how long close() waits for the batch in hand, its commit and leaving the group [5 000] */
  readonly closeTimeoutMs?: number
}

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

/** One joined client: its batches, what is in hand, and its commits, made one at a time. */
class Member {
  readonly client: KafkaConsumer
  readonly batcher: StreamBatcher
  readonly checkpointer: Checkpointer<CommitPosition>
  /** dropped (its stream failed): its acks are not committed any more */
  lost = false
  /** acknowledged positions not committed yet, the highest per partition */
  readonly toCommit = new Map<string, CommitPosition>()
  /** positions whose commit a rebalance refused: made again once the member has rejoined */
  readonly refused = new Map<string, CommitPosition>()
  committing: Promise<void> | undefined
  #idle: (() => void)[] = []

  constructor(client: KafkaConsumer, batcher: StreamBatcher, checkpointer: Checkpointer<CommitPosition>) {
    this.client = client
    this.batcher = batcher
    this.checkpointer = checkpointer
  }

  /** Resolves once no batch is in hand, or when `signal` aborts. */
  idle(signal: AbortSignal): Promise<void> {
    if (this.checkpointer.pending === 0 || signal.aborted) return Promise.resolve()
    return waitIn(this.#idle, signal)
  }

  /** After an ack: with nothing in hand, a next() filling a batch hands over what it has at once. */
  acked(): void {
    if (this.checkpointer.pending > 0) return
    this.batcher.setEager(true)
    const waiting = this.#idle
    this.#idle = []
    for (const done of waiting) done()
  }
}

export class KafkaBusConsumer extends PullConsumer {
  readonly #options: KafkaBusConsumerOptions
  readonly #logger: Logger
  /** the membership loop: joins, rejoins after an outage, leaves on close */
  #membership: Promise<void> | undefined
  #member: Member | undefined
  #failure: { readonly error: unknown } | undefined
  #changed: (() => void)[] = []

  constructor(options: KafkaBusConsumerOptions) {
    super()
    this.#options = options
    this.#logger = options.logger.child({ component: 'kafka-consumer' })
  }

  protected start(options: ConsumeOptions): void {
    this.#membership = this.#keepMember(options).catch((error: unknown) => this.#setMember(undefined, { error }))
  }

  protected async take(signal: AbortSignal): Promise<BusBatch | undefined> {
    for (;;) {
      if (signal.aborted) return undefined
      if (this.#failure !== undefined) throw this.#failure.error
      const member = this.#member
      if (member === undefined) {
        await this.#memberChanged(signal)
        continue
      }
      // Nothing in hand: hand over what has arrived at once rather than wait for a full batch.
      member.batcher.setEager(member.checkpointer.pending === 0)
      let batch: KafkaBatch | undefined
      try {
        batch = await member.batcher.next(signal)
      } catch {
        // The stream failed: the membership loop drops this member and joins again.
        if (this.#member === member) await this.#memberChanged(signal)
        continue
      }
      if (batch === undefined) continue
      const ack = this.#track(member, batch)
      // A batch of re-read records only (see StreamBatcher) has nothing to hand over, only commits.
      if (batch.records.length === 0) ack()
      else return { records: batch.records, ack }
    }
  }

  protected async finish(): Promise<void> {
    await this.#membership
  }

  /** The batch's ack: its positions go to the checkpointer, and what becomes committable is committed. */
  #track(member: Member, batch: KafkaBatch): () => void {
    const release = member.checkpointer.track(batch.commits.map((c) => [`${c.topic}:${c.partition}`, c] as const))
    return () => {
      const committable = release()
      if (!member.lost) this.#toCommit(member, committable)
      member.acked()
    }
  }

  #toCommit(member: Member, positions: Iterable<CommitPosition>): void {
    for (const c of positions) keepHighest(member.toCommit, c)
    // Started only with something to commit: the flush then settles after an await, never before it is stored.
    if (member.toCommit.size > 0) member.committing ??= this.#flush(member)
  }

  /** Commits what is acknowledged, one commit at a time; a permanent failure drops the member. */
  async #flush(member: Member): Promise<void> {
    try {
      while (member.toCommit.size > 0 && !member.lost) {
        const offsets = [...member.toCommit.values()]
        member.toCommit.clear()
        const refused = await this.#commit(member, offsets)
        if (refused.length > 0) {
          for (const c of refused) keepHighest(member.refused, c)
          // The rejoin may be over already (no join event to come): try again a heartbeat later.
          setTimeout(() => this.#commitRefused(member), this.#heartbeatMs()).unref()
        }
      }
    } catch (err) {
      member.batcher.fail(err)
    } finally {
      member.committing = undefined
    }
  }

  /** What a rebalance refused to commit is committed again, for the partitions still owned. */
  #commitRefused(member: Member): void {
    const owned = ownedPartitions(member.client)
    if (member.lost || this.closing.signal.aborted || owned === undefined || member.refused.size === 0) return
    const again = [...member.refused].filter(([key]) => owned.has(key)).map(([, c]) => c)
    member.refused.clear()
    this.#toCommit(member, again)
  }

  #heartbeatMs(): number {
    return Math.max(500, Math.floor((this.#options.sessionTimeoutMs ?? 10_000) / 5))
  }

  async #keepMember(options: ConsumeOptions): Promise<void> {
    const signal = this.closing.signal
    for (let attempt = 1; !signal.aborted; attempt++) {
      const client = this.#createConsumer(options)
      const checkpointer = new Checkpointer<CommitPosition>()
      // After every rebalance only the partitions owned now may commit (see Checkpointer).
      let member: Member | undefined
      const assign = (): void => {
        const owned = ownedPartitions(client)
        if (owned === undefined) return
        checkpointer.assign(owned)
        if (member !== undefined) this.#commitRefused(member)
      }
      client.on('consumer:group:join', assign)
      // Joining can take as long as the client's retries: closing the client cuts it short.
      const abortJoin = (): void => void client.close(true).catch(() => undefined)
      signal.addEventListener('abort', abortJoin, { once: true })
      try {
        const stream = await client.consume({
          topics: [...options.topics],
          mode: MessagesStreamModes.COMMITTED,
          fallbackMode: options.fromBeginning === false ? MessagesStreamFallbackModes.LATEST : MessagesStreamFallbackModes.EARLIEST
        })
        signal.removeEventListener('abort', abortJoin)
        client.joinedByConsume()
        attempt = 0
        assign()
        const joined = new Member(client, new StreamBatcher(stream, options.maxBatchRecords, options.maxBatchWaitMs), checkpointer)
        member = joined
        // The client emits 'error' when rejoining the group failed for good: this member is lost.
        client.on('error', (err: unknown) => joined.batcher.fail(err))
        this.#setMember(joined)
        let onClose = (): void => {}
        const closed = new Promise<void>((resolve) => (onClose = resolve))
        signal.addEventListener('abort', onClose, { once: true })
        if (signal.aborted) onClose()
        const lost = await Promise.race([joined.batcher.failed, closed])
        signal.removeEventListener('abort', onClose)
        if (signal.aborted) break
        throw lost
      } catch (err) {
        signal.removeEventListener('abort', abortJoin)
        if (member !== undefined) {
          // Let the batches in hand finish (uncommitted, they are redelivered) so that they do not
          // overlap with the redelivery, then rejoin.
          member.lost = true
          this.#setMember(undefined)
          await member.idle(signal)
        }
        if (signal.aborted) {
          await this.#shutdown(client)
          break
        }
        if (isPermanentKafkaError(err)) {
          this.#logger.error({ err }, 'kafka consumer failed for good; not rejoining')
          await this.#shutdown(client)
          throw toAppError(err, 'consume')
        }
        const delay = backoffMs(Math.max(attempt, 1), 500, 10_000)
        this.#logger.warn({ err, retryInMs: delay }, 'kafka consumer lost the broker; rejoining')
        await this.#shutdown(client)
        await sleep(delay, signal)
        continue
      }
    }
    // Closing: commit what is acknowledged, then leave the group.
    const member = this.#member
    this.#setMember(undefined)
    if (member !== undefined) {
      member.batcher.stop()
      await member.committing
      await this.#shutdown(member.client)
    }
  }

  #setMember(member: Member | undefined, failure?: { readonly error: unknown }): void {
    this.#member = member
    if (failure !== undefined) this.#failure = failure
    const waiting = this.#changed
    this.#changed = []
    for (const done of waiting) done()
  }

  /** Resolves when the member changes, the consumer fails for good, or `signal` aborts. */
  #memberChanged(signal: AbortSignal): Promise<void> {
    return waitIn(this.#changed, signal)
  }

  /**
   * Commits positions past acknowledged batches, retrying through broker outages. Partitions that a
   * rebalance moved to another member are not committed (their new owner may be further already);
   * the new owner redelivers from the previous commit, which the idempotent data path absorbs.
   * Returns the positions of a commit refused by a rebalance (made again after the rejoin).
   */
  async #commit(member: Member, commits: readonly CommitPosition[]): Promise<readonly CommitPosition[]> {
    const signal = this.closing.signal
    const consumer = member.client
    let giveUpAt = Number.POSITIVE_INFINITY
    // A member dropped meanwhile gives up: its successor resumes from the last commit.
    for (let attempt = 1; !member.lost; attempt++) {
      const offsets = [...commits]
      dropUnowned(consumer, offsets)
      if (offsets.length < commits.length) {
        this.#logger.info({ revoked: commits.length - offsets.length }, 'partitions revoked before commit; their new owner redelivers them')
      }
      if (offsets.length === 0) return []
      try {
        await consumer.commit({ offsets })
        return []
      } catch (err) {
        if (err instanceof RejoinLeftToHeartbeat || isRebalanceError(err)) {
          this.#logger.warn({ err }, 'commit refused by a rebalance; made again once rejoined')
          return offsets
        }
        if (isPermanentKafkaError(err)) throw err
        // Closing: keep trying a little (a restart redelivers what is not committed, harmlessly).
        if (signal.aborted && giveUpAt === Number.POSITIVE_INFINITY) giveUpAt = Date.now() + this.#closeTimeoutMs() / 2
        if (Date.now() > giveUpAt) {
          this.#logger.warn({ err }, 'commit failed while closing; records will be redelivered')
          return []
        }
        const delay = backoffMs(attempt, 200, 5_000)
        this.#logger.warn({ err, retryInMs: delay }, 'kafka commit failed; retrying')
        await sleep(signal.aborted ? Math.min(delay, 500) : delay)
      }
    }
    return []
  }

  #createConsumer(options: ConsumeOptions): KafkaConsumer {
    const sessionTimeout = this.#options.sessionTimeoutMs ?? 10_000
    const consumer = new GroupMember({
      ...baseClientOptions(this.#options),
      groupId: options.groupId,
      // Offsets are committed by #commit, after the service acknowledged, never by the client.
      autocommit: false,
      sessionTimeout,
      heartbeatInterval: this.#heartbeatMs(),
      rebalanceTimeout: 30_000,
      // A bounded stream buffer and fetch size bound memory: every fetched record is decoded into
      // several objects that live until its batch is stored. 1 MiB fetches cost the broker about
      // half the CPU of 256 KiB ones (1.1–1.6 against 1.8–3.0 CPU-s per million readings, same
      // batches, same run); with the streaming worker's old generation kept tight
      // (streaming/main.ts) they fit the memory target (docs/performance.md).
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
    // Without a listener an 'error' event (a failed rejoin) would crash the process; #keepMember also
    // listens, to drop this member and join again.
    consumer.on('error', (err: unknown) => this.#logger.warn({ err }, 'kafka consumer group error'))
    consumer.on('consumer:heartbeat:error', (event: { error: Error }) => this.#logger.debug({ err: event.error }, 'kafka heartbeat failed'))
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
      this.#logger.warn({ err }, 'kafka consumer did not close cleanly')
    } finally {
      clearTimeout(timer)
    }
  }

  #closeTimeoutMs(): number {
    return this.#options.closeTimeoutMs ?? 5_000
  }
}

/** Resolves when one of `waiters` is called (the caller empties the list), or when `signal` aborts. */
function waitIn(waiters: (() => void)[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done)
      resolve()
    }
    waiters.push(done)
    signal.addEventListener('abort', done, { once: true })
  })
}

function keepHighest(positions: Map<string, CommitPosition>, c: CommitPosition): void {
  const key = `${c.topic}:${c.partition}`
  if ((positions.get(key)?.offset ?? -1n) < c.offset) positions.set(key, c)
}

/** The partitions ("topic:partition") the client is assigned, or undefined while none is known. */
function ownedPartitions(consumer: KafkaConsumer): Set<string> | undefined {
  const assignments = consumer.assignments
  if (assignments === null) return undefined
  const owned = new Set<string>()
  for (const { topic, partitions } of assignments) for (const partition of partitions) owned.add(`${topic}:${partition}`)
  return owned
}

/** Removes, in place, the positions of partitions this member is not assigned (keeps all while no assignment is known). */
function dropUnowned(consumer: KafkaConsumer, offsets: CommitPosition[]): void {
  const owned = ownedPartitions(consumer)
  if (owned === undefined) return
  for (let i = offsets.length - 1; i >= 0; i--) {
    const c = offsets[i] as CommitPosition
    if (!owned.has(`${c.topic}:${c.partition}`)) offsets.splice(i, 1)
  }
}
