// The checkpointer alone: contiguous prefixes per partition, acks in any order, rebalances.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Checkpointer, type Checkpoint } from './checkpointer.ts'

const at = (offset: number): Checkpoint => ({ offset: BigInt(offset) })
const offsets = (positions: Checkpoint[]): number[] => positions.map((p) => Number(p.offset))

test('acks in order commit each batch', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0'])
  const first = c.track([['t:0', at(10)]])
  const second = c.track([['t:0', at(20)]])
  assert.equal(c.pending, 2)
  assert.deepEqual(offsets(first()), [10])
  assert.deepEqual(offsets(second()), [20])
  assert.equal(c.pending, 0)
})

test('acks out of order commit only the contiguous prefix, then everything at once', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0'])
  const acks = [10, 20, 30, 40].map((o) => c.track([['t:0', at(o)]]))
  assert.deepEqual(offsets((acks[2] as () => Checkpoint[])()), [], 'the third before the first: nothing')
  assert.deepEqual(offsets((acks[1] as () => Checkpoint[])()), [], 'the second: still held back by the first')
  assert.deepEqual(offsets((acks[0] as () => Checkpoint[])()), [30], 'the first: the prefix up to the third')
  assert.deepEqual(offsets((acks[3] as () => Checkpoint[])()), [40])
})

test('partitions are independent: a batch held on one does not hold back another', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0', 't:1'])
  const a = c.track([['t:0', at(5)]])
  const b = c.track([
    ['t:0', at(9)],
    ['t:1', at(7)]
  ])
  assert.deepEqual(offsets(b()), [7], 'partition 1 has nothing earlier in hand')
  assert.deepEqual(offsets(a()), [9])
})

test('an ack is counted once', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0'])
  const ack = c.track([['t:0', at(3)]])
  assert.deepEqual(offsets(ack()), [3])
  assert.deepEqual(offsets(ack()), [])
  assert.equal(c.pending, 0)
})

test('a commit never moves back: positions re-read after a rebalance yield only when higher', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0'])
  assert.deepEqual(offsets(c.track([['t:0', at(50)]])()), [50])
  assert.deepEqual(offsets(c.track([['t:0', at(30)]])()), [])
  assert.deepEqual(offsets(c.track([['t:0', at(60)]])()), [60])
})

test('partitions not assigned are never tracked', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0'])
  const ack = c.track([
    ['t:0', at(4)],
    ['t:1', at(8)]
  ])
  assert.deepEqual(offsets(ack()), [4])
})

test('a late ack after the partition was revoked never yields', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0', 't:1'])
  const late = c.track([
    ['t:0', at(10)],
    ['t:1', at(10)]
  ])
  c.assign(['t:1'])
  assert.deepEqual(offsets(late()), [10], 'only the partition still owned')
  assert.equal(c.pending, 0)
})

test('a revoked partition that comes back: old batches yield nothing but still hold back the new ones', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0'])
  const old = c.track([['t:0', at(100)]])
  c.assign([])
  c.assign(['t:0'])
  // Its new owner was back at 40; the records up to 100 are re-read and redelivered.
  const renewed = c.track([['t:0', at(100)]])
  const newer = c.track([['t:0', at(120)]])
  assert.deepEqual(offsets(newer()), [])
  assert.deepEqual(offsets(renewed()), [], 'the old batch is still being stored: nothing past it')
  assert.deepEqual(offsets(old()), [120], 'once it is: the new prefix, not the old position')
})

test('a partition kept across a rebalance keeps its batches in hand', () => {
  const c = new Checkpointer<Checkpoint>()
  c.assign(['t:0', 't:1'])
  const kept = c.track([['t:0', at(10)]])
  c.assign(['t:0'])
  assert.deepEqual(offsets(kept()), [10])
})
