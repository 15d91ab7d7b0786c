import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compatibilityPartitioner, murmur2 } from '@platformatic/kafka'
import { partitionForKey } from './kafka-partitioner.ts'

// org.apache.kafka.common.utils.UtilsTest#testMurmur2
const JAVA_VECTORS: ReadonlyArray<readonly [string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107]
]

test('murmur2 matches the Java client', () => {
  for (const [key, hash] of JAVA_VECTORS) assert.equal(murmur2(Buffer.from(key)), hash, key)
})

test('the Kafka publisher and the in-process bus put a key on the same partition as the Java client', () => {
  for (const [key, hash] of JAVA_VECTORS) {
    const java = (hash & 0x7fffffff) % 12
    assert.equal(partitionForKey(Buffer.from(key), 12), java, key)
    const message = { topic: 't', key: Buffer.from(key), value: Buffer.alloc(0) }
    assert.equal(compatibilityPartitioner(message, Buffer.from(key)) % 12, java, key)
  }
  for (let i = 0; i < 1000; i++) {
    const key = Buffer.from(`sensor-${i}`)
    assert.equal(partitionForKey(key, 7), compatibilityPartitioner({ topic: 't', key, value: key }, key) % 7)
  }
})
