// The answer epochs of migration 014: what a write raises (in its own statement, see writeSql),
// what retention marks around a drop, and what the API's cache of answers compares.
import type pg from 'pg'
import type { Reading } from '../../domain/reading.ts'

const DAY_S = 86_400
/** write slots per day: a connection has one, so that concurrent writers rarely share a row lock */
const WRITE_SLOTS = 16

/** The unix days [lo, hi] that a range [fromS, toS) of unix seconds touches. */
export function dayRange(fromS: number, toS: number): [lo: number, hi: number] {
  return [Math.floor(fromS / DAY_S), Math.max(Math.floor(fromS / DAY_S), Math.ceil(toS / DAY_S) - 1)]
}

/** The distinct unix days of a batch, ascending (the rows' lock order). */
export function daysOf(readings: readonly Reading[]): number[] {
  const days = new Set<number>()
  for (const r of readings) days.add(Math.floor(r.timestamp / DAY_S))
  return [...days].sort((a, b) => a - b)
}

let nextSlot = Math.floor(Math.random() * WRITE_SLOTS)
const slotOfClient = new WeakMap<object, number>()

/**
 * The slot a connection writes in: its own within the process (a connection runs one statement at
 * a time, so the writers of a pool of up to 16 never wait for each other here), from a random start
 * so that processes rarely share one either.
 */
export function slotOf(connection: object): number {
  let slot = slotOfClient.get(connection)
  if (slot === undefined) {
    slot = nextSlot++ % WRITE_SLOTS
    slotOfClient.set(connection, slot)
  }
  return slot
}

/**
 * A CTE of the write statement: raises the batch's days ($5, ascending) in one slot ($4), only if
 * the batch stored a row (a replay of stored readings changes no answer). Listed after the raw
 * insert it reads, it runs after it: the row lock is held for the commit only.
 */
export const RAISE_EPOCHS_CTE = `INSERT INTO answer_epochs AS a (day, slot, epoch)
  SELECT day, $4::int2, 1 FROM unnest($5::int4[]) AS day WHERE EXISTS (SELECT FROM ins) ORDER BY day
  ON CONFLICT (day, slot) DO UPDATE SET epoch = a.epoch + 1`

/** The sum over a range's days ($1..$2), and whether retention is dropping part of them. */
export const ANSWER_VERSION_SQL = `SELECT coalesce(sum(epoch), 0)::text AS version, coalesce(bool_or(slot = -1 AND epoch % 2 = 1), false) AS dropping
  FROM answer_epochs WHERE day BETWEEN $1 AND $2`

/** Retention's slot, raised by one for each day of [fromS, toS): odd before a drop, even after. */
export async function raiseRetentionSlot(client: pg.PoolClient, fromS: number, toS: number): Promise<void> {
  const [lo, hi] = dayRange(fromS, toS)
  await client.query(
    `INSERT INTO answer_epochs AS a (day, slot, epoch) SELECT d, -1, 1 FROM generate_series($1::int, $2::int) AS d ORDER BY d
     ON CONFLICT (day, slot) DO UPDATE SET epoch = a.epoch + 1`,
    [lo, hi]
  )
}

/** Ends the marks of a retention run that died mid-drop: call holding the retention lock. */
export async function settleRetentionSlots(client: pg.PoolClient): Promise<void> {
  await client.query('UPDATE answer_epochs SET epoch = epoch + 1 WHERE slot = -1 AND epoch % 2 = 1')
}
