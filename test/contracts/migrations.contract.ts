// The Migrations contract: the schema that the store and the queries need, brought up to date safely
// however often and from however many processes at once. There is no in-process twin (the embedded
// default is a real PostgreSQL); any future adapter must pass these same cases.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import type { Lifecycle } from '../../src/ports/lifecycle.ts'
import type { Migrations } from '../../src/ports/migrations.ts'
import type { ReadingQueries } from '../../src/ports/queries.ts'
import type { ReadingStore } from '../../src/ports/store.ts'

/** One connection (pool) to a database: its migrations, and the store and queries on it. */
export interface MigratedParts extends Lifecycle {
  readonly migrations: Migrations
  readonly store: ReadingStore
  readonly queries: ReadingQueries
}

export interface MigrationsDatabase {
  /** connected parts on this database, not migrated by it; call as often as needed, they share the database */
  open(): Promise<MigratedParts>
}

export interface MigrationsContractOptions {
  /** a new, empty database of its own */
  readonly freshDatabase: () => Promise<MigrationsDatabase>
}

const T0 = 1_689_260_000
const r = (sensor_id: string, timestamp: number, value = 1): Reading => ({ sensor_id, value, timestamp })

export function migrationsContract(name: string, options: MigrationsContractOptions): void {
  async function open(t: TestContext, db: MigrationsDatabase): Promise<MigratedParts> {
    const parts = await db.open()
    t.after(() => parts.close())
    return parts
  }

  describe(`Migrations contract: ${name}`, () => {
    test('after migrate, the store writes and the queries read what it wrote', async (t) => {
      const p = await open(t, await options.freshDatabase())
      await p.migrations.migrate()
      assert.deepEqual(await p.store.write([r('a', T0), r('b', T0 + 1)]), { inserted: 2, duplicates: 0 })
      assert.deepEqual(await p.queries.latest('b'), r('b', T0 + 1))
      assert.deepEqual(await p.queries.latestPerSensor(), [r('a', T0), r('b', T0 + 1)])
    })

    test('migrate twice is safe, and keeps what was stored', async (t) => {
      const p = await open(t, await options.freshDatabase())
      await p.migrations.migrate()
      await p.migrations.migrate()
      assert.deepEqual(await p.store.write([r('a', T0)]), { inserted: 1, duplicates: 0 })
      await p.migrations.migrate()
      assert.deepEqual(await p.queries.latest('a'), r('a', T0))
      assert.deepEqual(await p.store.write([r('a', T0)]), { inserted: 0, duplicates: 1 })
    })

    test('migrate from several instances at once is safe', async (t) => {
      const db = await options.freshDatabase()
      const instances = await Promise.all([1, 2, 3, 4].map(() => open(t, db)))
      await Promise.all(instances.map((p) => p.migrations.migrate()))
      assert.deepEqual(await instances[0]?.store.write([r('a', T0)]), { inserted: 1, duplicates: 0 })
      assert.deepEqual(await instances[3]?.store.write([r('a', T0)]), { inserted: 0, duplicates: 1 })
    })

    test('before migrate, a write is refused (not stored somewhere else)', async (t) => {
      const db = await options.freshDatabase()
      const p = await open(t, db)
      await assert.rejects(p.store.write([r('a', T0)]))
      await p.migrations.migrate()
      assert.deepEqual(await p.queries.latestPerSensor(), [])
    })
  })
}
