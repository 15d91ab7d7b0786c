// BusAdmin on Kafka: creates missing topics and waits until they have leaders, so that a publish or
// a consumer started right after ensureTopics() finds them ready.
import { Admin } from '@platformatic/kafka'
import type { BusAdmin, TopicSpec } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { sleep } from '../../platform/retry.ts'
import { baseClientOptions, type KafkaBusOptions } from './kafka-client.ts'
import { isTopicAlreadyExists, toAppError } from './kafka-errors.ts'

const READY_TIMEOUT_MS = 15_000

export class KafkaBusAdmin implements BusAdmin {
  readonly #options: KafkaBusOptions
  readonly #logger: Logger
  #admin: Admin | undefined

  constructor(options: KafkaBusOptions) {
    this.#options = options
    this.#logger = options.logger.child({ component: 'kafka-admin' })
  }

  async connect(): Promise<void> {
    try {
      await this.#open().metadata({ topics: [] })
    } catch (err) {
      throw toAppError(err, 'connect')
    }
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (topics.length === 0) return
    const admin = this.#open()
    try {
      const existing = new Set(await admin.listTopics())
      const missing = topics.filter((topic) => !existing.has(topic.name))
      // One request per topic: a topic created meanwhile by another instance fails only its own request.
      await Promise.all(
        missing.map(async (topic) => {
          try {
            await admin.createTopics({ topics: [{ topic: topic.name, partitions: topic.partitions, replicas: topic.replicationFactor }] })
            this.#logger.info({ topic: topic.name, partitions: topic.partitions }, 'topic created')
          } catch (err) {
            if (!isTopicAlreadyExists(err)) throw err
          }
        })
      )
      await this.#waitForLeaders(
        admin,
        topics.map((topic) => topic.name)
      )
    } catch (err) {
      throw toAppError(err, 'ensureTopics')
    }
  }

  async consumerLag(groupId: string, topic: string): Promise<number> {
    const admin = this.#open()
    try {
      const metadata = await admin.metadata({ topics: [topic] })
      const count = metadata.topics.get(topic)?.partitionsCount ?? 0
      const [ends, groups] = await Promise.all([
        admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp: -1n })) }] }),
        admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: count }, (_, i) => i) }] }] })
      ])
      const committed = new Map<number, bigint>()
      for (const t of groups[0]?.topics ?? []) for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset)
      let lag = 0n
      for (const p of ends[0]?.partitions ?? []) {
        const done = committed.get(p.partitionIndex) ?? -1n
        // -1: nothing committed yet, the whole partition is behind (its start is not tracked here)
        lag += done < 0n ? p.offset : p.offset > done ? p.offset - done : 0n
      }
      return Number(lag)
    } catch (err) {
      throw toAppError(err, 'consumerLag')
    }
  }

  async close(): Promise<void> {
    const admin = this.#admin
    this.#admin = undefined
    await admin?.close().catch((err: unknown) => this.#logger.warn({ err }, 'kafka admin did not close cleanly'))
  }

  // Topic creation returns before every partition has a leader; poll metadata until all do.
  async #waitForLeaders(admin: Admin, names: readonly string[]): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS
    for (;;) {
      const metadata = await admin.metadata({ topics: [...names], forceUpdate: true })
      const ready = names.every((name) => {
        const topic = metadata.topics.get(name)
        return topic !== undefined && topic.partitions.length > 0 && topic.partitions.every((p) => p !== undefined && p.leader >= 0)
      })
      if (ready) return
      if (Date.now() > deadline) throw new AppError('TIMEOUT', `kafka topics ${names.join(', ')} have no leader yet`, { retryable: true })
      await sleep(100)
    }
  }

  #open(): Admin {
    this.#admin ??= new Admin(baseClientOptions(this.#options))
    return this.#admin
  }
}
