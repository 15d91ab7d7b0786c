// The Java Kafka client's default key → partition mapping: toPositive(murmur2(key)) % partitions.
// Used by the in-process bus so that it places keys exactly where Kafka does; the Kafka publisher
// uses the client library's own `compatibilityPartitioner`, which computes the same (both are
// checked against the Java client's test vectors in kafka-partitioner.test.ts).

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit integer. */
export function murmur2(data: Buffer): number {
  const length = data.length
  const m = 0x5bd1e995
  let h = 0x9747b28c ^ length
  const fullWords = length - (length % 4)
  for (let i = 0; i < fullWords; i += 4) {
    let k = data.readInt32LE(i)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = length % 4
  if (rest > 0) {
    if (rest === 3) h ^= (data[fullWords + 2] ?? 0) << 16
    if (rest >= 2) h ^= (data[fullWords + 1] ?? 0) << 8
    h ^= data[fullWords] ?? 0
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition the Java client's default partitioner picks for a non-null key. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}
