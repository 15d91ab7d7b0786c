import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backoffMs, retryForever, sleep } from './retry.ts'

test('backoff doubles from the initial delay up to the cap, jittered between half and all of it', () => {
  for (let i = 0; i < 200; i++) {
    const first = backoffMs(1, 100, 5_000)
    assert.ok(first >= 50 && first <= 100, String(first))
    const fourth = backoffMs(4, 100, 5_000)
    assert.ok(fourth >= 400 && fourth <= 800, String(fourth))
    const late = backoffMs(60, 100, 5_000)
    assert.ok(late >= 2_500 && late <= 5_000, String(late))
  }
})

test('sleep resolves when its signal aborts, at once when already aborted', async () => {
  const controller = new AbortController()
  const started = performance.now()
  const slept = sleep(60_000, controller.signal)
  controller.abort()
  await slept
  await sleep(60_000, AbortSignal.abort())
  assert.ok(performance.now() - started < 1_000)
})

test('retryForever retries until the operation succeeds, and rethrows a fatal error at once', async () => {
  let calls = 0
  const retries: number[] = []
  const value = await retryForever(
    async () => {
      if (++calls < 3) throw new Error('not yet')
      return 'done'
    },
    { initialDelayMs: 1, maxDelayMs: 2, onRetry: (_err, attempt) => retries.push(attempt) }
  )
  assert.equal(value, 'done')
  assert.deepEqual(retries, [1, 2])
  const fatal = new Error('fatal')
  await assert.rejects(
    retryForever(() => Promise.reject(fatal), { isFatal: (err) => err === fatal }),
    fatal
  )
})
