// Keyset-paged reads (GET /rules, /alerts, /alerts/events): a query asks for one row more than the
// page holds; when that row comes, the page's last item gives the key the next page starts after.
import type pg from 'pg'
import { translatePgError } from './postgres-errors.ts'

/** Adds a query parameter and returns its placeholder (`$1`, `$2`, …). */
export type Bind = (value: unknown) => string

export interface Page<T, K> {
  readonly items: T[]
  /** the key of the page's last item when there may be more */
  readonly next?: K
}

/**
 * Runs `sql` (written with `bind`, ending in its ORDER BY) with `LIMIT limit + 1`, and makes
 * the page of `limit` items of it.
 */
export async function queryPage<R extends pg.QueryResultRow, T, K>(
  pool: pg.Pool,
  operation: string,
  page: { readonly limit: number; readonly sql: (bind: Bind) => string; readonly fromRow: (row: R) => T; readonly keyOf: (item: T) => K }
): Promise<Page<T, K>> {
  const values: unknown[] = []
  const bind: Bind = (value) => {
    values.push(value)
    return `$${values.length}`
  }
  const sql = `${page.sql(bind)} LIMIT ${bind(page.limit + 1)}`
  let rows: R[]
  try {
    rows = (await pool.query<R>(sql, values)).rows
  } catch (err) {
    throw translatePgError(err, operation)
  }
  const items = rows.slice(0, page.limit).map(page.fromRow)
  const last = items[items.length - 1]
  return rows.length > page.limit && last !== undefined ? { items, next: page.keyOf(last) } : { items }
}

/** `WHERE a AND b …` of the conditions, `column = $n` for each `[column, value]` whose value is set. */
export function where(bind: Bind, equal: readonly (readonly [string, unknown])[], ...more: (string | undefined)[]): string {
  const conditions = [
    ...equal.filter(([, value]) => value !== undefined).map(([column, value]) => `${column} = ${bind(value)}`),
    ...more.filter((c) => c !== undefined)
  ]
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`
}
