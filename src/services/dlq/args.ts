// `sensorstream dlq list|replay` arguments. A bad argument is a CONFIG_INVALID error naming it.
import { parseArgs } from 'node:util'
import { AppError } from '../../platform/errors.ts'

/** What --where can test, with a regular expression: `error~too large`, `key~^sensor-1$`. */
export const WHERE_FIELDS = ['error', 'key', 'value', 'source'] as const
export type WhereField = (typeof WHERE_FIELDS)[number]

export interface Where {
  readonly field: WhereField
  readonly pattern: RegExp
}

export type DlqArgs =
  | { readonly command: 'list'; readonly where: readonly Where[]; readonly limit: number }
  | { readonly command: 'replay'; readonly where: readonly Where[]; readonly dryRun: boolean }

export const DEFAULT_LIST_LIMIT = 100

const USAGE = 'sensorstream dlq list [--limit N] [--where FIELD~REGEX]… | dlq replay [--where FIELD~REGEX]… [--dry-run]'

export function parseWhere(text: string): Where {
  const match = /^([a-z]+)~(.*)$/s.exec(text)
  const field = match?.[1] as WhereField | undefined
  if (match === null || field === undefined || !WHERE_FIELDS.includes(field)) {
    throw invalid(`--where "${text}": expected FIELD~REGEX with FIELD one of ${WHERE_FIELDS.join(', ')}`)
  }
  try {
    return { field, pattern: new RegExp(match[2] as string, 'u') }
  } catch (err) {
    throw invalid(`--where "${text}": ${(err as Error).message}`)
  }
}

export function parseDlqArgs(args: readonly string[]): DlqArgs {
  let parsed: { positionals: string[]; values: { limit?: string; where?: string[]; 'dry-run'?: boolean } }
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { limit: { type: 'string' }, where: { type: 'string', multiple: true }, 'dry-run': { type: 'boolean' } }
    })
  } catch (err) {
    throw invalid(`${(err as Error).message} (usage: ${USAGE})`)
  }
  const { positionals, values } = parsed
  const where = (values.where ?? []).map(parseWhere)
  const [command, ...extra] = positionals
  if (extra.length > 0) throw invalid(`unexpected argument "${extra[0]}" (usage: ${USAGE})`)
  if (command === 'list') {
    if (values['dry-run'] !== undefined) throw invalid('--dry-run belongs to `dlq replay`')
    const limit = values.limit === undefined ? DEFAULT_LIST_LIMIT : Number(values.limit)
    if (!/^\d+$/.test(values.limit ?? '0') || !Number.isSafeInteger(limit) || limit < 1) throw invalid(`--limit "${values.limit}": expected a whole number ≥ 1`)
    return { command, where, limit }
  }
  if (command === 'replay') {
    if (values.limit !== undefined) throw invalid('--limit belongs to `dlq list`')
    return { command, where, dryRun: values['dry-run'] === true }
  }
  throw invalid(`${command === undefined ? 'missing subcommand' : `unknown subcommand "${command}"`} (usage: ${USAGE})`)
}

function invalid(message: string): AppError {
  return new AppError('CONFIG_INVALID', message)
}
