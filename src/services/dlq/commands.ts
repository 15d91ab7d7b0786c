// `dlq list` prints the dead letters; `dlq replay` re-sends the original records of matching ones to
// the readings topic, each once (the ledger records what was re-sent; see ports/dlq-ledger.ts).
import type { BusPublisher } from '../../ports/bus.ts'
import type { BusReader } from '../../ports/bus-reader.ts'
import { deadLetterKey, type DeadLetterLedger } from '../../ports/dlq-ledger.ts'
import type { Where } from './args.ts'
import { matches, original, readDeadLetters, type DeadLetter } from './dead-letters.ts'

/** dead letters read, matched and re-sent at a time (one ledger transaction each) */
export const DLQ_BATCH = 500

export interface DlqTopics {
  /** where dead letters are */
  readonly dlqTopic: string
  /** where `dlq replay` re-sends them: the readings topic */
  readonly topic: string
}

export interface ListResult {
  readonly total: number
  readonly matching: number
  readonly shown: number
}

export async function listDeadLetters(
  deps: { readonly reader: BusReader; readonly ledger?: DeadLetterLedger },
  topics: DlqTopics,
  options: { readonly where: readonly Where[]; readonly limit: number },
  out: (line: string) => void,
  signal: AbortSignal
): Promise<ListResult> {
  let total = 0
  let matching = 0
  let shown = 0
  out(['partition', 'offset', 'source', 'error', 'key', 'value', ...(deps.ledger === undefined ? [] : ['replayed'])].join('\t'))
  for await (const batch of readDeadLetters(deps.reader, topics.dlqTopic, DLQ_BATCH, signal)) {
    total += batch.length
    const chosen = batch.filter((l) => matches(l, options.where))
    matching += chosen.length
    const show = chosen.slice(0, Math.max(0, options.limit - shown))
    if (show.length === 0) continue
    const replayed = deps.ledger === undefined ? undefined : await deps.ledger.replayed(show.map((l) => l.id))
    for (const letter of show) {
      const when = replayed === undefined ? [] : [replayed.get(deadLetterKey(letter.id))?.toISOString() ?? '-']
      const error = letter.cut === undefined ? letter.error : `${letter.error} [cut to fit: ${letter.cut}]`
      out(
        [letter.id.partition, letter.id.offset, letter.source, cell(error, 120), cell(letter.record.key, 40), cell(letter.record.value, 80), ...when].join('\t')
      )
    }
    shown += show.length
  }
  out(`${shown} shown; ${matching} matching of ${total} dead letters in ${topics.dlqTopic}`)
  return { total, matching, shown }
}

export interface ReplayResult {
  readonly matching: number
  /** re-sent by this run (dry run: would be) */
  readonly sent: number
  /** matching ones that an earlier (or concurrent) run re-sent */
  readonly skipped: number
  /** matching ones never re-sent because the streaming service cut them to fit the topic */
  readonly cut: number
}

export async function replayDeadLetters(
  deps: { readonly reader: BusReader; readonly publisher: BusPublisher; readonly ledger: DeadLetterLedger },
  topics: DlqTopics,
  options: { readonly where: readonly Where[]; readonly dryRun: boolean },
  out: (line: string) => void,
  signal: AbortSignal
): Promise<ReplayResult> {
  let matching = 0
  let sent = 0
  let cut = 0
  for await (const batch of readDeadLetters(deps.reader, topics.dlqTopic, DLQ_BATCH, signal)) {
    const matched = batch.filter((l) => matches(l, options.where))
    matching += matched.length
    const chosen = matched.filter((l) => l.cut === undefined)
    for (const l of matched)
      if (l.cut !== undefined) out(`not re-sent (its ${l.cut} was cut to fit the dead-letter topic)\t${l.id.partition}\t${l.id.offset}\t${l.source}`)
    cut += matched.length - chosen.length
    if (chosen.length === 0) continue
    const byKey = new Map(chosen.map((l) => [deadLetterKey(l.id), l]))
    let resent: readonly DeadLetter[]
    if (options.dryRun) {
      const replayed = await deps.ledger.replayed(chosen.map((l) => l.id))
      resent = chosen.filter((l) => !replayed.has(deadLetterKey(l.id)))
    } else {
      const claimed = await deps.ledger.resendOnce(
        chosen.map((l) => l.id),
        (ids) => deps.publisher.publish(ids.map((id) => original(byKey.get(deadLetterKey(id)) as DeadLetter, topics.topic)))
      )
      resent = claimed.map((id) => byKey.get(deadLetterKey(id)) as DeadLetter)
    }
    for (const l of resent) out(`${options.dryRun ? 'would re-send' : 're-sent'}\t${l.id.partition}\t${l.id.offset}\t${l.source}\t${cell(l.error, 120)}`)
    sent += resent.length
  }
  const skipped = matching - cut - sent
  out(
    `${options.dryRun ? 'dry run: would re-send' : 're-sent'} ${sent} of ${matching} matching dead letters to ${topics.topic}; ${skipped} already re-sent before` +
      (cut === 0 ? '' : `; ${cut} not re-sendable (cut to fit the dead-letter topic)`)
  )
  return { matching, sent, skipped, cut }
}

/** One table cell: control characters escaped (tabs and newlines would break the table), then cut. */
function cell(value: Buffer | string | null, max: number): string {
  if (value === null) return '(null)'
  const text = JSON.stringify(typeof value === 'string' ? value : value.toString('utf8')).slice(1, -1)
  return text.length > max ? `${text.slice(0, max)}…` : text
}
