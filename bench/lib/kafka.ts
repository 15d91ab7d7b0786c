// Kafka offsets as seen by any client: end offsets of a topic and the committed offsets of a group.
import { Admin } from '@platformatic/kafka'

export class Offsets {
  readonly #admin: Admin
  readonly #partitions = new Map<string, number>()

  constructor(brokers: string) {
    this.#admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: [brokers] })
  }

  async #count(topic: string): Promise<number> {
    let n = this.#partitions.get(topic)
    if (n === undefined) {
      const meta = await this.#admin.metadata({ topics: [topic] })
      n = meta.topics.get(topic)?.partitionsCount ?? 0
      this.#partitions.set(topic, n)
    }
    return n
  }

  /** End offset (next offset to be written) per partition. */
  async ends(topic: string): Promise<Map<number, bigint>> {
    const n = await this.#count(topic)
    const result = await this.#admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: n }, (_, i) => ({ partitionIndex: i, timestamp: -1n })) }]
    })
    return new Map((result[0]?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]))
  }

  /** Records in the topic (sum of end offsets: the topics here are never compacted or truncated). */
  async total(topic: string): Promise<number> {
    let sum = 0n
    for (const offset of (await this.ends(topic)).values()) sum += offset
    return Number(sum)
  }

  async committed(group: string, topic: string): Promise<Map<number, bigint>> {
    const result = await this.#admin.listConsumerGroupOffsets({ groups: [group] })
    const done = new Map<number, bigint>()
    for (const t of result[0]?.topics ?? []) if (t.name === topic) for (const p of t.partitions) done.set(p.partitionIndex, p.committedOffset)
    return done
  }

  /** Every partition's committed offset of `group` has reached `ends`. */
  async caughtUp(group: string, topic: string, ends: Map<number, bigint>): Promise<boolean> {
    const done = await this.committed(group, topic)
    for (const [partition, end] of ends) if (end > 0n && (done.get(partition) ?? -1n) < end) return false
    return true
  }

  async close(): Promise<void> {
    await this.#admin.close()
  }
}
