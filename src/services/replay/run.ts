// Re-reads a range of the readings topic into the store through the streaming service's own ingest
// handler: decode and validate, Postgres first-write-wins, Redis compare-by-timestamp. So a replay
// over stored data changes nothing, and one over rows lost from Postgres fills them in. Invalid
// records are only counted: the streaming service dead-lettered them when it first read them, and
// dead-lettering them again would make `dlq replay` re-send them twice. Replayed readings are history,
// not news: they are not published to the live feed.
import type { Logger } from '../../platform/logger.ts'
import { createMetricsRegistry } from '../../platform/metrics.ts'
import type { BusPublisher } from '../../ports/bus.ts'
import type { BusReader, PartitionRange } from '../../ports/bus-reader.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { LatestCache } from '../streaming/latest-cache.ts'
import { createIngestHandler } from '../streaming/ingest.ts'
import { StreamingMetrics } from '../streaming/metrics.ts'
import { invalid, type Position, type ReplayArgs } from './args.ts'

export interface ReplayDeps {
  readonly reader: BusReader
  readonly store: ReadingStore
  readonly latest: LatestValues
  readonly logger: Logger
}

export interface ReplayOptions {
  readonly topic: string
  readonly batchMaxRows: number
  /** a progress line every this many milliseconds */
  readonly progressEveryMs: number
  readonly progress: (line: string) => void
  /** stops after the batch in hand */
  readonly signal: AbortSignal
}

export interface ReplaySummary {
  readonly ranges: readonly PartitionRange[]
  /** offsets in the ranges, and how many of them were passed */
  readonly offsets: bigint
  readonly done: bigint
  readonly read: number
  readonly stored: number
  readonly duplicates: number
  readonly invalid: number
  /** every range was read to its end */
  readonly complete: boolean
  readonly seconds: number
}

/** Where each partition's replay starts and stops, clamped to what the topic still holds. */
export async function planReplay(reader: BusReader, topic: string, args: ReplayArgs): Promise<PartitionRange[]> {
  const partitions = await reader.offsets(topic)
  if (partitions.length === 0) throw invalid(`topic "${topic}" does not exist or has no partitions`)
  for (const p of args.partitions ?? []) {
    if (p >= partitions.length) throw invalid(`--partition ${p}: topic "${topic}" has partitions 0 to ${partitions.length - 1}`)
  }
  const selected = args.partitions === undefined ? partitions : partitions.filter((p) => args.partitions?.includes(p.partition))
  const resolve = async (position: Position): Promise<(partition: number) => bigint> => {
    if (position.kind === 'offset') return () => position.offset
    const found = await reader.offsetsForTime(topic, position.timestampMs)
    return (partition) => found.get(partition) ?? 0n
  }
  const from = await resolve(args.from)
  const to = args.to === undefined ? undefined : await resolve(args.to)
  return selected.map((p) => {
    const end = to === undefined ? p.end : min(to(p.partition), p.end)
    const start = max(from(p.partition), p.start)
    return { partition: p.partition, from: min(start, end), to: end }
  })
}

export async function runReplay(deps: ReplayDeps, args: ReplayArgs, options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now()
  const ranges = await planReplay(deps.reader, options.topic, args)
  const metrics = new StreamingMetrics(createMetricsRegistry('replay'))
  const handler = createIngestHandler({
    store: deps.store,
    // no repairer runs here: a Redis failure during a replay leaves the streaming service's own repair to fix it
    cache: new LatestCache({ store: deps.store, latest: deps.latest, metrics, logger: deps.logger }),
    live: NO_LIVE_FEED,
    deadLetters: NO_DEAD_LETTERS,
    dlqTopic: `${options.topic}.dlq`,
    metrics,
    logger: deps.logger.child({ component: 'replay', deadLetters: 'counted, not sent again' })
  })
  const offsets = ranges.reduce((sum, r) => sum + (r.to - r.from), 0n)
  /** per partition, the next offset to replay */
  const positions = new Map(ranges.map((r) => [r.partition, r.from]))
  let read = 0
  let complete = false

  const summary = async (): Promise<ReplaySummary> => {
    const done = complete ? offsets : ranges.reduce((sum, r) => sum + (min(positions.get(r.partition) ?? r.from, r.to) - r.from), 0n)
    const [stored, duplicates] = await Promise.all([count(metrics.stored), count(metrics.duplicates)])
    // Valid readings are either stored or duplicates; the rest of what was read was invalid, whatever
    // the ingest handler then did with it. (While a batch is settling the counts may disagree a little.)
    const invalid = Math.max(0, read - stored - duplicates)
    return { ranges, offsets, done, read, stored, duplicates, invalid, complete, seconds: (performance.now() - started) / 1000 }
  }
  const timer = setInterval(() => {
    summary().then(
      (s) => options.progress(progressLine(s)),
      () => undefined
    )
  }, options.progressEveryMs)
  try {
    for await (const batch of deps.reader.read(options.topic, ranges, { maxBatchRecords: options.batchMaxRows, signal: options.signal })) {
      await handler(batch, { signal: options.signal })
      read += batch.length
      for (const record of batch) if (record.offset >= (positions.get(record.partition) ?? 0n)) positions.set(record.partition, record.offset + 1n)
    }
    complete = !options.signal.aborted
  } finally {
    clearInterval(timer)
  }
  return summary()
}

export function progressLine(s: ReplaySummary): string {
  const percent = s.offsets === 0n ? 100 : Number((s.done * 1000n) / s.offsets) / 10
  return `replay: ${s.ranges.length} partitions, offsets ${s.done}/${s.offsets} (${percent}%), read ${s.read}, stored ${s.stored}, duplicates ${s.duplicates}, invalid ${s.invalid}`
}

export function summaryLines(s: ReplaySummary): string {
  const ranges = s.ranges.map((r) => `  partition ${r.partition}: offsets ${r.from} to ${r.to}`).join('\n')
  return (
    `replay ${s.complete ? 'finished' : 'stopped before its end'} in ${s.seconds.toFixed(1)} s: ` +
    `read ${s.read}, stored new ${s.stored}, duplicates ${s.duplicates}, invalid ${s.invalid}\n${ranges}\n`
  )
}

async function count(counter: StreamingMetrics['stored']): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0)
}

const NO_LIVE_FEED: LiveFeed = {
  connect: async () => {},
  close: async () => {},
  publish: async () => {},
  subscribe: async () => async () => {}
}

const NO_DEAD_LETTERS: BusPublisher = {
  connect: async () => {},
  close: async () => {},
  publish: async () => {},
  maxRecordBytes: async () => Number.MAX_SAFE_INTEGER
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}
