// LiveSession on fakes: the seam (live copies of replayed readings skipped, new ones kept), its
// memory bound, and a client dropped when it falls too far behind.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryLiveFeed } from '../../../adapters/feed/memory-live-feed.ts'
import type { Reading } from '../../../domain/reading.ts'
import type { ReadingQueries, ReplayQuery } from '../../../ports/queries.ts'
import { comparePositions, positionOf } from './position.ts'
import { LiveSession, SEAM_MAX_READINGS, type LiveEvent } from './session.ts'

function storedQueries(stored: Reading[], onPage?: () => Promise<void>): ReadingQueries {
  return {
    async replay(q: ReplayQuery) {
      await onPage?.()
      return stored.filter((r) => comparePositions(positionOf(r), q.after) > 0).slice(0, q.limit)
    }
  } as unknown as ReadingQueries
}

function collector(backlog = () => 0) {
  const events: LiveEvent[] = []
  const drops: string[] = []
  return {
    events,
    drops,
    sink: {
      send: (e: readonly LiveEvent[]) => void events.push(...e),
      backlog,
      drained: async () => undefined,
      drop: (reason: string) => void drops.push(reason)
    }
  }
}

const at = (i: number): Reading => ({ sensor_id: `s-${i % 3}`, value: i, timestamp: Date.now() / 1000 - 100 + i / 1000 })

test('what is replayed and also arrives live is sent once; what only arrives live is sent', async () => {
  const feed = new MemoryLiveFeed()
  const stored = Array.from({ length: 2500 }, (_, i) => at(i))
  // While the replay runs, the last 10 stored readings and 5 new ones arrive live.
  let published = false
  const queries = storedQueries(stored, async () => {
    if (published) return
    published = true
    await feed.publish([...stored.slice(-10), ...Array.from({ length: 5 }, (_, i) => at(3000 + i))])
    await new Promise((r) => setImmediate(r))
  })
  const c = collector()
  const session = new LiveSession({ feed, queries, sink: c.sink, resumeSeconds: 300, bufferBytes: 1 << 20 })
  await session.open()
  assert.equal(await session.subscribe(['s-*'], { tsMs: 0, sensorId: '' }), 2500)
  // A late live copy after the replay is skipped too.
  await feed.publish([stored[2499] as Reading])
  await new Promise((r) => setImmediate(r))
  const keys = c.events.map((e) => `${e.reading.sensor_id}@${e.reading.timestamp}`)
  assert.equal(keys.length, 2505)
  assert.equal(new Set(keys).size, 2505)
  session.close()
})

test('the seam remembers at most SEAM_MAX_READINGS replayed readings', async () => {
  const stored = Array.from({ length: SEAM_MAX_READINGS + 5000 }, (_, i) => at(i))
  const c = collector()
  const session = new LiveSession({ feed: new MemoryLiveFeed(), queries: storedQueries(stored), sink: c.sink, resumeSeconds: 300, bufferBytes: 1 << 20 })
  await session.open()
  await session.subscribe(['*'], { tsMs: 0, sensorId: '' })
  const seam = (session as unknown as { seam: Set<string> }).seam
  assert.ok(seam.size <= SEAM_MAX_READINGS, `${seam.size}`)
  session.close()
})

test('a client with more than bufferBytes queued is dropped', async () => {
  const feed = new MemoryLiveFeed()
  let queued = 0
  const c = collector(() => queued)
  const session = new LiveSession({ feed, queries: storedQueries([]), sink: c.sink, resumeSeconds: 300, bufferBytes: 1000 })
  await session.open()
  await session.subscribe(['*'])
  await feed.publish([at(1)])
  await new Promise((r) => setImmediate(r))
  assert.equal(c.events.length, 1)
  queued = 2000
  await feed.publish([at(2)])
  await new Promise((r) => setImmediate(r))
  assert.equal(c.events.length, 1)
  assert.equal(c.drops.length, 1)
})
