// The Java Kafka client's default key → partition mapping: toPositive(murmur2(key)) % partitions.
// Used by the in-process bus so that it places keys exactly where Kafka does; the Kafka publisher
// uses the client library's own `compatibilityPartitioner`, built on the same `murmur2` (both are
// checked against the Java client's test vectors in kafka-partitioner.test.ts).
import { murmur2 } from '@platformatic/kafka'

/** The partition the Java client's default partitioner picks for a non-null key. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}
