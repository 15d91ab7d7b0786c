// A PostgreSQL server as a whole, for the launchers (adapters/embedded/postgres.ts, dev/), `services:up` and the benchmark:
// does it answer, create and drop a database on it. The driver stays here, under adapters/.
import pg from 'pg'

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${encodeURIComponent(name)}`
  return url.toString()
}

/** True when `url` accepts a connection and a query within `timeoutMs`. */
export async function postgresAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`

/** Creates database `name` (unless `ifMissing` and it exists) and returns its URL. */
export async function createDatabase(serverUrl: string, name: string, options: { ifMissing?: boolean } = {}): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    const exists = options.ifMissing === true && (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
    if (!exists) await client.query(`CREATE DATABASE ${quoteIdent(name)}`)
  } catch (err) {
    // created by someone else meanwhile
    if (!(options.ifMissing === true && (err as { code?: string }).code === '42P04')) throw err
  } finally {
    await client.end().catch(() => {})
  }
  return databaseUrl(serverUrl, name)
}

/** Drops database `name` on the server of `url` (any database URL of that server), closing its connections. */
export async function dropDatabase(url: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(url, 'postgres'), connectionTimeoutMillis: 10_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
  } finally {
    await client.end().catch(() => {})
  }
}
