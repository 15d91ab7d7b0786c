// Which offsets a consumer may commit, per partition, as Redpanda Connect's checkpoint.Capped does:
// each batch handed over is tracked with the position past its records on each partition, and
// acknowledging it yields, per partition, the highest position whose batch and every earlier batch
// of that partition are acknowledged (the contiguous prefix). Batches may be acknowledged in any
// order; a commit never skips a batch still in hand.
//
// Rebalances: only the partitions of the latest assignment yield. A partition that is revoked keeps
// the batches tracked before, but they never yield again (a late ack must not move its new owner's
// offset back); if the partition comes back, they still hold back the new batches behind them, so
// that nothing is committed past records that are still being stored.

/** A position to commit: Kafka's convention, the next offset to read (last handled + 1). */
export interface Checkpoint {
  readonly offset: bigint
}

interface Entry<P extends Checkpoint> {
  readonly position: P
  /** the ownership the entry was tracked under; an entry of an older one never yields */
  readonly epoch: number
  acked: boolean
}

interface PartitionLog<P extends Checkpoint> {
  owned: boolean
  /** bumped whenever ownership changes */
  epoch: number
  /** entries in the order their batches were handed over; acknowledged ones at the head are dropped */
  readonly entries: Entry<P>[]
  /** the highest offset yielded in this ownership: a commit never moves back */
  yielded: bigint
}

export class Checkpointer<P extends Checkpoint> {
  readonly #logs = new Map<string, PartitionLog<P>>()
  #pending = 0

  /** Batches tracked and not acknowledged yet. */
  get pending(): number {
    return this.#pending
  }

  /**
   * The partitions (keys) assigned from now on. Those no longer in it stop yielding; those new in it
   * start yielding again, behind whatever was tracked before and not acknowledged.
   */
  assign(keys: Iterable<string>): void {
    const assigned = new Set(keys)
    for (const [key, log] of this.#logs) {
      if (assigned.has(key)) continue
      if (log.owned) {
        log.owned = false
        log.epoch++
      }
      if (log.entries.length === 0) this.#logs.delete(key)
    }
    for (const key of assigned) {
      const log = this.#logs.get(key)
      if (log === undefined) this.#logs.set(key, { owned: true, epoch: 0, entries: [], yielded: -1n })
      else if (!log.owned) {
        log.owned = true
        log.epoch++
        log.yielded = -1n
      }
    }
  }

  /**
   * Tracks one batch: `positions` maps each partition it holds records of to the position past
   * them. Partitions not assigned are not tracked (never committed). Returns the batch's ack: the
   * positions that became committable through it, at most one per partition, each higher than any
   * yielded before for it. A second call yields nothing.
   */
  track(positions: Iterable<readonly [string, P]>): () => P[] {
    const tracked: [PartitionLog<P>, Entry<P>][] = []
    for (const [key, position] of positions) {
      const log = this.#logs.get(key)
      if (log === undefined || !log.owned) continue
      const entry: Entry<P> = { position, epoch: log.epoch, acked: false }
      log.entries.push(entry)
      tracked.push([log, entry])
    }
    this.#pending++
    let acked = false
    return () => {
      if (acked) return []
      acked = true
      this.#pending--
      const committable: P[] = []
      for (const [log, entry] of tracked) {
        entry.acked = true
        const position = this.#advance(log)
        if (position !== undefined) committable.push(position)
      }
      return committable
    }
  }

  /** Drops the acknowledged entries at the head of the log; the highest current one among them is committable. */
  #advance(log: PartitionLog<P>): P | undefined {
    let highest: P | undefined
    let dropped = 0
    for (const entry of log.entries) {
      if (!entry.acked) break
      dropped++
      if (log.owned && entry.epoch === log.epoch && entry.position.offset > log.yielded && (highest === undefined || entry.position.offset > highest.offset)) {
        highest = entry.position
      }
    }
    if (dropped > 0) log.entries.splice(0, dropped)
    if (highest !== undefined) log.yielded = highest.offset
    return highest
  }
}
