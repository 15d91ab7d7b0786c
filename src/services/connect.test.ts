// connectAll waits out a dependency; a stop asked for meanwhile is a clean stop, not an error.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLogger } from '../platform/logger.ts'
import type { Lifecycle } from '../ports/lifecycle.ts'
import { connectAll } from './connect.ts'

function part(fails: boolean): Lifecycle & { connects: number; closes: number } {
  return {
    connects: 0,
    closes: 0,
    async connect() {
      this.connects++
      if (fails) throw new Error('connect ECONNREFUSED 127.0.0.1:1')
    },
    async close() {
      this.closes++
    }
  }
}

test('stopped while waiting: resolves, tries no more, closes what it opened and the part it waited for', async () => {
  const first = part(false)
  const down = part(true)
  const never = part(false)
  const controller = new AbortController()
  const connecting = connectAll({ first, down, never }, createLogger('silent'), controller.signal)
  await new Promise((r) => setTimeout(r, 300))
  controller.abort()
  const attempts = down.connects
  const opened = await connecting
  await opened.close()
  assert.equal(down.connects, attempts, 'no attempt after the stop')
  assert.equal(never.connects, 0)
  assert.equal(first.closes, 1)
  assert.equal(down.closes, 1)
  assert.equal(never.closes, 0)
})

test('connected: close() closes every part once, last first', async () => {
  const order: string[] = []
  const named = (name: string): Lifecycle => ({ connect: async () => undefined, close: async () => void order.push(name) })
  const opened = await connectAll({ a: named('a'), b: named('b') }, createLogger('silent'), new AbortController().signal)
  await opened.close()
  assert.deepEqual(order, ['b', 'a'])
})
