import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, test } from 'node:test'
import pg from 'pg'
import { startPostgres, type PostgresServer } from './postgres.ts'

const servers: PostgresServer[] = []
after(async () => {
  for (const server of servers) await server.dispose()
})

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql)).rows
  } finally {
    await client.end()
  }
}

test('a Postgres server starts, answers, stops, is killed and starts again with its data', async () => {
  const postgres = await startPostgres()
  servers.push(postgres)
  assert.equal(postgres.url, `postgres://postgres@127.0.0.1:${postgres.port}/postgres`)
  assert.deepEqual(await query(postgres.url, 'SELECT current_user AS user'), [{ user: 'postgres' }])

  const url = await postgres.createDatabase('launcher_test')
  assert.equal(url, `postgres://postgres@127.0.0.1:${postgres.port}/launcher_test`)
  await query(url, 'CREATE TABLE t (x int); INSERT INTO t VALUES (1)')

  await postgres.stop()
  assert.equal(postgres.pid, undefined)
  await postgres.start()
  assert.deepEqual(await query(url, 'SELECT x FROM t'), [{ x: 1 }])

  await postgres.kill()
  assert.equal(postgres.pid, undefined)
  await postgres.start()
  assert.deepEqual(await query(url, 'SELECT x FROM t'), [{ x: 1 }])

  await postgres.dispose()
  assert.equal(existsSync(postgres.dataDir), false)
})

test('a persistent Postgres keeps its data dir across servers', async () => {
  const first = await startPostgres()
  servers.push(first)
  await first.stop()
  const second = await startPostgres({ dataDir: first.dataDir, persistent: true })
  servers.push(second)
  assert.deepEqual(await query(second.url, 'SELECT 1 AS one'), [{ one: 1 }])
  await second.dispose()
  assert.equal(existsSync(first.dataDir), true)
})
