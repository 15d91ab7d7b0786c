// `sensorstream replay` arguments: where to start and stop (an offset or an RFC 3339 time) and
// which partitions. A bad argument is a CONFIG_INVALID error naming it (the CLI exits 2).
import { parseArgs } from 'node:util'
import { AppError } from '../../platform/errors.ts'

/** An offset (the same in every partition) or a record time, epoch milliseconds. */
export type Position = { readonly kind: 'offset'; readonly offset: bigint } | { readonly kind: 'time'; readonly timestampMs: number }

export interface ReplayArgs {
  readonly from: Position
  /** exclusive; absent: the end offsets as they are when the replay starts */
  readonly to?: Position
  /** absent: every partition */
  readonly partitions?: readonly number[]
}

export const REPLAY_USAGE = 'replay --from <offset|RFC 3339 time> [--to <offset|RFC 3339 time>] [--partition N[,N…]]…'

// Date-time of RFC 3339 (section 5.6): a zone is required, so that a time means one instant.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]\d{2}:[0-5]\d)$/

/** Date.parse rolls 2026-02-30 over into March: a day must exist in its month. */
function isRfc3339(text: string): boolean {
  const m = RFC3339.exec(text)
  if (m === null) return false
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  return month >= 1 && month <= 12 && day >= 1 && day === new Date(Date.UTC(year, month - 1, day)).getUTCDate()
}

export function parsePosition(name: string, text: string): Position {
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: BigInt(text) }
  const timestampMs = isRfc3339(text) ? Date.parse(text.replace(' ', 'T')) : Number.NaN
  if (!Number.isFinite(timestampMs)) throw invalid(`--${name} "${text}": expected an offset (0, 1, …) or an RFC 3339 time such as 2026-01-31T12:00:00Z`)
  return { kind: 'time', timestampMs }
}

export function parseReplayArgs(args: readonly string[]): ReplayArgs {
  const { values } = parse(args)
  if (values.from === undefined) throw invalid(`--from is required (usage: sensorstream ${REPLAY_USAGE})`)
  const partitions = values.partition
    ?.flatMap((p) => p.split(','))
    .map((p) => {
      if (!/^\d+$/.test(p.trim())) throw invalid(`--partition "${p}": expected a partition number (0, 1, …)`)
      return Number(p.trim())
    })
  return {
    from: parsePosition('from', values.from),
    ...(values.to === undefined ? {} : { to: parsePosition('to', values.to) }),
    ...(partitions === undefined ? {} : { partitions: [...new Set(partitions)].sort((a, b) => a - b) })
  }
}

function parse(args: readonly string[]): { values: { from?: string; to?: string; partition?: string[] } } {
  try {
    return parseArgs({
      args: [...args],
      options: { from: { type: 'string' }, to: { type: 'string' }, partition: { type: 'string', multiple: true } }
    })
  } catch (err) {
    throw invalid(`${(err as Error).message} (usage: sensorstream ${REPLAY_USAGE})`)
  }
}

export function invalid(message: string): AppError {
  return new AppError('CONFIG_INVALID', message)
}
