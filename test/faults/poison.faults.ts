// Poison mixed into the stream: random bytes, truncated and 5,000-deep JSON, messages near the
// broker's size limit, wrong types, NaN/Infinity strings, millisecond timestamps, nulls. Every valid
// reading is stored, every invalid one dead-lettered exactly once, and memory stays flat.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { readTopic } from '../e2e/support.ts'
import { produce, Rig } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

function poison(random: () => number): string[] {
  const now = Math.floor(Date.now() / 1000)
  const some: string[] = []
  for (let i = 0; i < 40; i++) some.push(randomBytes(1 + Math.floor(random() * 2_000)).toString('latin1'))
  for (let i = 0; i < 40; i++) some.push(JSON.stringify({ sensor_id: `p-${i}`, value: i, timestamp: now }).slice(0, 5 + i))
  some.push('['.repeat(5_000) + ']'.repeat(5_000), '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000))
  // near the broker's message size limit (1 MiB by default), several of them: one batch may hold them all
  for (let i = 0; i < 4; i++)
    some.push(JSON.stringify({ sensor_id: `big-${i}`, value: 1, timestamp: now, pad: 'x'.repeat(900_000 + i * 30_000) }).replace('"value":1', '"value":"1"'))
  for (let i = 0; i < 20; i++) {
    some.push(
      JSON.stringify({ sensor_id: `w-${i}`, value: String(i), timestamp: now }),
      JSON.stringify({ sensor_id: `w-${i}`, value: 'NaN', timestamp: now }),
      JSON.stringify({ sensor_id: `w-${i}`, value: 'Infinity', timestamp: now }),
      JSON.stringify({ sensor_id: `w-${i}`, value: i, timestamp: now * 1000 + i }),
      JSON.stringify({ sensor_id: `w-${i}`, value: null, timestamp: now }),
      JSON.stringify({ sensor_id: null, value: i, timestamp: now }),
      JSON.stringify({ sensor_id: `w-${i}`, value: i, timestamp: '2026-01-01' }),
      JSON.stringify([{ sensor_id: `w-${i}`, value: i, timestamp: now }]),
      'null',
      ''
    )
  }
  return some
}

test('poison mixed into 100,000 readings: valid stored, invalid dead-lettered once, memory flat', async (t) => {
  const seed = runSeed()
  const probe = new Workload({ seed, readings: 1, sensors: 1 })
  const bad = poison(probe.random)
  const workload = new Workload({ seed, readings: 100_000, sensors: 1_000, poison: bad })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const rig = await Rig.start('poison')
  try {
    rig.startStreaming()
    await rig.inject(`${bad.length} poison records among 100,000 readings`, () => produce(rig, workload, 20_000, 50), workload)
    await rig.waitAllStored(workload)
    const dead = await readTopic(rig.brokers, rig.dlq, bad.length, 60_000)
    const perKey = new Map<string, number>()
    for (const record of dead) perKey.set(record.key ?? '', (perKey.get(record.key ?? '') ?? 0) + 1)
    const missing = bad.map((_, i) => `poison-${i}`).filter((k) => perKey.get(k) === undefined)
    const twice = [...perKey].filter(([, n]) => n > 1).map(([k]) => k)
    const counts = await rig.account(t, workload, {
      dead_lettered: dead.length,
      poison_sent: bad.length,
      poison_missing_from_dlq: missing.length,
      poison_dead_lettered_twice: twice.length
    })
    assert.deepEqual(missing, [], 'every poison record is in the dead-letter topic')
    assert.deepEqual(twice, [], 'no poison record dead-lettered twice')
    assert.equal(dead.length, bad.length)
    assert.ok(Number(counts.streaming_peak_rss_mb) < 350, `memory flat: ${String(counts.streaming_peak_rss_mb)} MB`)
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
