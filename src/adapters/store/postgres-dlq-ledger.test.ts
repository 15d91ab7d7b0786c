// PostgresDeadLetterLedger on a throwaway database: a claim lasts only as long as its send, and two
// runs at once never both send one dead letter.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { freshDatabase } from '../../../test/harness/index.ts'
import { createLogger } from '../../platform/logger.ts'
import { deadLetterKey, type DeadLetterId } from '../../ports/dlq-ledger.ts'
import { PostgresDeadLetterLedger } from './postgres-dlq-ledger.ts'

async function open(): Promise<PostgresDeadLetterLedger> {
  const ledger = new PostgresDeadLetterLedger({ url: await freshDatabase('ledger'), statementTimeoutMs: 30_000, logger: createLogger('silent') })
  await ledger.connect()
  await ledger.migrate()
  return ledger
}

const ids = (offsets: readonly number[]): DeadLetterId[] => offsets.map((o) => ({ topic: 'r.dlq', partition: o % 2, offset: BigInt(o) }))
const keys = (list: readonly DeadLetterId[]): string[] => list.map(deadLetterKey).sort()

test('a failed send records nothing; a successful one records each dead letter once', async () => {
  const ledger = await open()
  try {
    await assert.rejects(
      ledger.resendOnce(ids([1, 2]), async () => {
        throw new Error('kafka down')
      }),
      /kafka down/
    )
    assert.equal((await ledger.replayed(ids([1, 2]))).size, 0, 'the claim was rolled back')
    const sent: DeadLetterId[][] = []
    assert.deepEqual(keys(await ledger.resendOnce(ids([1, 2]), async (c) => void sent.push([...c]))), keys(ids([1, 2])))
    assert.deepEqual(keys(await ledger.resendOnce(ids([1, 2, 3]), async (c) => void sent.push([...c]))), keys(ids([3])))
    assert.deepEqual(sent.map(keys), [keys(ids([1, 2])), keys(ids([3]))])
    assert.deepEqual([...(await ledger.replayed(ids([1, 3, 4]))).keys()].sort(), keys(ids([1, 3])))
    assert.deepEqual(await ledger.resendOnce(ids([2]), async () => assert.fail('nothing left to send')), [])
  } finally {
    await ledger.close()
  }
})

test('two runs at once over overlapping dead letters send each once, the second waiting for the first', async () => {
  const ledger = await open()
  try {
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const sent: string[] = []
    const first = ledger.resendOnce(ids([5, 4, 3, 2, 1]), async (c) => {
      await held
      sent.push(...c.map(deadLetterKey))
    })
    await new Promise((r) => setTimeout(r, 200))
    const second = ledger.resendOnce(ids([1, 2, 3, 6, 7]), async (c) => void sent.push(...c.map(deadLetterKey)))
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(sent, [], 'the second run waits on the first one’s claims')
    release()
    const [a, b] = await Promise.all([first, second])
    assert.deepEqual(keys(a), keys(ids([1, 2, 3, 4, 5])))
    assert.deepEqual(keys(b), keys(ids([6, 7])))
    assert.deepEqual(sent.sort(), keys(ids([1, 2, 3, 4, 5, 6, 7])))
  } finally {
    await ledger.close()
  }
})
