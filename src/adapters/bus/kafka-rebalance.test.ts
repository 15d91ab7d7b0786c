// A consumer group on a real broker settles after a member joins or leaves: one rebalance per
// membership change, not a storm of rebalances with the same assignment (issue 11).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { publishUntilStopped, waitFor } from '../../../test/contracts/bus.contract.ts'
import { ownKafka, uniqueName } from '../../../test/harness/index.ts'
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from './kafka.ts'
import { consumeEach } from '../../../test/harness/consume.ts'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** How long the group is watched after each membership change. */
const WATCH_MS = 20_000

interface Join {
  readonly member: number
  readonly generation: number
  readonly at: number
}

test('kafka group: a member joining, then one leaving, causes one rebalance each, not a storm', async (t) => {
  const kafka = await ownKafka()
  const joins: Join[] = []
  const loggerFor = (member: number) =>
    pino(
      { level: 'info' },
      {
        write(line: string) {
          const entry = JSON.parse(line) as { msg?: string; generation?: number }
          if (entry.msg === 'joined consumer group' && entry.generation !== undefined) joins.push({ member, generation: entry.generation, at: Date.now() })
          if (process.env.LOG_LEVEL !== undefined) process.stderr.write(`[member ${member}] ${line}`)
        }
      }
    )
  const options = (member: number) => ({ brokers: [kafka.brokers], clientId: uniqueName(`rebalance_${member}`), logger: loggerFor(member) })
  const topic = uniqueName('rebalance')
  const groupId = `g-${topic}`
  const admin = new KafkaBusAdmin(options(0))
  const publisher = new KafkaBusPublisher(options(0))
  const consumers: KafkaBusConsumer[] = []
  t.after(async () => {
    await Promise.all(consumers.map((c) => c.close()))
    await publisher.close()
    await admin.close()
  })
  await admin.ensureTopics([{ name: topic, partitions: 6, replicationFactor: 1 }])
  const producing = publishUntilStopped(publisher, topic, 30)

  const received = new Set<string>()
  const join = (member: number): void => {
    const consumer = new KafkaBusConsumer({ ...options(member), sessionTimeoutMs: 10_000 })
    consumers.push(consumer)
    // Small batches handled in a few ms: a commit is nearly always in flight when the group rebalances.
    void consumeEach(consumer, { topics: [topic], groupId, maxBatchRecords: 20, maxBatchWaitMs: 10 }, async (batch) => {
      await sleep(5)
      for (const r of batch) received.add(String(r.value))
    }).done
  }
  const generation = (): number => Math.max(0, ...joins.map((j) => j.generation))

  join(1)
  join(2)
  await waitFor(() => new Set(joins.filter((j) => j.generation === generation()).map((j) => j.member)).size === 2, 'two members in one generation', 60_000)
  await waitFor(() => received.size >= 500, 'records flowing', 60_000)
  await sleep(3_000)

  const watch = async (what: string): Promise<void> => {
    const before = generation()
    const since = Date.now()
    await sleep(WATCH_MS)
    const during = joins.filter((j) => j.at >= since)
    const generations = new Set(during.map((j) => j.generation))
    const perGeneration = new Map<string, number>()
    for (const j of during) perGeneration.set(`${j.member}@${j.generation}`, (perGeneration.get(`${j.member}@${j.generation}`) ?? 0) + 1)
    const twice = [...perGeneration].filter(([, n]) => n > 1).map(([k]) => k)
    t.diagnostic(
      `${what}: generations ${before} → ${generation()} in ${WATCH_MS / 1000} s; joins ${during.map((j) => `${j.member}@${j.generation}`).join(' ')}`
    )
    // One rebalance for the change; a second one is tolerated (a member may join while it settles).
    assert.ok(generation() - before <= 2, `${what}: ${generation() - before} rebalances in ${WATCH_MS / 1000} s (${[...generations].join(', ')})`)
    assert.deepEqual(twice, [], `${what}: a member joined the same generation twice`)
  }

  join(3)
  await watch('a third member joined')
  const leaving = consumers.shift() as KafkaBusConsumer
  await leaving.close()
  await watch('a member left')

  await producing.stop()
  await waitFor(() => producing.published.every((v) => received.has(v)), 'every published record', 60_000)
})
