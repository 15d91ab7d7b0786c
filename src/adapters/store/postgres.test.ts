// PostgresReadingStore against the ReadingStore contract and PostgresDatabase against the Migrations
// contract, on throwaway PostgreSQL servers (harness).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { freshDatabase, ownPostgres } from '../../../test/harness/index.ts'
import { migrationsContract } from '../../../test/contracts/migrations.contract.ts'
import { storeContract } from '../../../test/contracts/store.contract.ts'
import { createLogger } from '../../platform/logger.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { PostgresDatabase } from './postgres-database.ts'

const logger = createLogger('silent')

const database = (url: string): PostgresDatabase => new PostgresDatabase({ url, poolMax: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 2_000, logger })

/** The database's store, connecting and closing the database (the contract closes what it opens). */
function store(url: string): ReadingStore {
  const db = database(url)
  return new Proxy(db.store, {
    get: (target, property) => (property === 'connect' ? () => db.connect() : property === 'close' ? () => db.close() : Reflect.get(target, property))
  })
}

async function open(url: string): Promise<ReadingStore> {
  const s = store(url)
  await s.connect()
  return s
}

async function openDatabase(url: string): Promise<PostgresDatabase> {
  const db = database(url)
  await db.connect()
  return db
}

/** A fresh database, migrated. */
async function migrated(url: string): Promise<string> {
  const db = await openDatabase(url)
  try {
    await db.migrate()
  } finally {
    await db.close()
  }
  return url
}

storeContract('postgres', {
  freshDatabase: async () => {
    const url = await migrated(await freshDatabase('store'))
    return { open: () => open(url) }
  },
  // port 1 on loopback: nothing listens there, the connection is refused at once
  unreachable: () => store('postgres://postgres@127.0.0.1:1/none'),
  ownServer: async () => {
    const server = await ownPostgres()
    await migrated(server.url)
    return { open: () => open(server.url), stop: () => server.stop(), start: () => server.start() }
  }
})

migrationsContract('postgres', {
  freshDatabase: async () => {
    const url = await freshDatabase('migrations')
    return {
      open: async () => {
        const db = await openDatabase(url)
        return { migrations: db, store: db.store, queries: db.queries, connect: () => db.connect(), close: () => db.close() }
      }
    }
  }
})

test("postgres only: the (sensor_id, ts) key covers value, so a sensor's range is read from the index alone", async (t) => {
  const db = await openDatabase(await freshDatabase('store'))
  t.after(() => db.close())
  await db.migrate()
  const s = db.store
  const { rows: defs } = await db.pool.query<{ def: string }>(
    "SELECT pg_get_indexdef(conindid) AS def FROM pg_constraint WHERE conname = 'sensor_data_sensor_id_ts_key'"
  )
  assert.match(defs[0]?.def ?? '', /UNIQUE INDEX .* \(sensor_id, ts\) INCLUDE \(value\)/)
  const readings = Array.from({ length: 2_000 }, (_, i) => ({ sensor_id: `s${i % 10}`, value: i, timestamp: 1_689_260_000 + i }))
  assert.deepEqual(await s.write(readings), { inserted: 2_000, duplicates: 0 })
  assert.deepEqual(await s.write(readings.slice(0, 5)), { inserted: 0, duplicates: 5 }, 'ON CONFLICT (sensor_id, ts) still finds the key')
  await db.pool.query('VACUUM ANALYZE sensor_data')
  const client = await db.pool.connect()
  try {
    // A table this small would be scanned whole; what matters is that the index can answer alone.
    await client.query('SET enable_seqscan = off')
    await client.query('SET enable_bitmapscan = off')
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      "EXPLAIN SELECT count(*), min(value), max(value), avg(value) FROM sensor_data WHERE sensor_id = 's1' AND ts >= to_timestamp(1689260000) AND ts < to_timestamp(1689261000)"
    )
    assert.match(
      rows.map((r) => r['QUERY PLAN']).join('\n'),
      /Index Only Scan using sensor_data_p\w+ on sensor_data_p20230713/,
      "the partition's copy of the key"
    )
  } finally {
    client.release()
  }
})

test('postgres only: concurrent writes of the same rows in opposite orders never deadlock', async (t) => {
  const db = await openDatabase(await freshDatabase('store'))
  t.after(() => db.close())
  await db.migrate()
  const s = db.store
  for (let round = 0; round < 5; round++) {
    const readings = Array.from({ length: 2_000 }, (_, i) => ({
      sensor_id: `d${i % 40}`,
      value: i,
      timestamp: 1_689_260_000 + round * 1_000 + Math.floor(i / 40)
    }))
    const results = await Promise.all([s.write(readings), s.write([...readings].reverse()), s.write(readings.slice(1000).concat(readings.slice(0, 1000)))])
    assert.equal(
      results.reduce((n, r) => n + r.inserted, 0),
      2_000,
      `round ${round}`
    )
    for (const r of results) assert.equal(r.inserted + r.duplicates, 2_000)
  }
})
