// Sends records with one produce call per partition, so that the idempotent producer's own retries
// can absorb a leader moving (docs/upstream/platformatic-kafka-produce-retry.md).
//
// @platformatic/kafka groups a send's records by partition leader into one request per broker,
// then retries each such request, whole, towards the leader of its FIRST record's partition. When
// a killed broker's partitions move to different brokers, every retry is refused for the others
// (NOT_LEADER_OR_FOLLOWER), the send fails, the client drops its producer id, and any re-send is
// new to the broker: the partitions it had stored were stored twice. With one partition per call
// a retry always goes to that partition's leader with the same producer id and sequence numbers,
// which the broker deduplicates; and after a failure only the failed partitions are sent again.
import type { MessageToProduce, Producer } from '@platformatic/kafka'
import { isPermanentKafkaError } from './kafka-errors.ts'

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>

/** Rounds over the partitions still failing before the error goes to the caller (each round is the client's full retry budget). */
const ROUNDS = 3

/**
 * Sends `messages` (each partition in order) and resolves once every partition has acknowledged its
 * records; rejects with the first failure once it is permanent or `ROUNDS` rounds have failed.
 * `partitionOf` is the partitioner the client would apply (its result is taken modulo the count).
 */
export async function sendByPartition(
  producer: Producer<Buffer, Buffer, Buffer, Buffer>,
  messages: readonly Message[],
  partitionOf: (message: Message, key: Buffer | undefined) => number
): Promise<void> {
  if (messages.length === 0) return
  const topics = [...new Set(messages.map((m) => m.topic))]
  const metadata = await producer.metadata({ topics })
  const groups = new Map<string, Message[]>()
  for (const message of messages) {
    const count = metadata.topics.get(message.topic)?.partitionsCount ?? 1
    const partition = (message.partition ?? partitionOf(message, message.key)) % count
    const group = `${message.topic}\u0000${partition}`
    let list = groups.get(group)
    if (list === undefined) groups.set(group, (list = []))
    list.push({ ...message, partition })
  }
  let pending = [...groups.values()]
  for (let round = 1; ; round++) {
    const results = await Promise.allSettled(pending.map((group) => producer.send({ messages: group })))
    const failed = pending.filter((_, i) => results[i]?.status === 'rejected')
    if (failed.length === 0) return
    const error = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as unknown
    if (round >= ROUNDS || isPermanentKafkaError(error)) throw error
    pending = failed
  }
}
