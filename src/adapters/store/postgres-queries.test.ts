// PostgresReadingQueries against the ReadingQueries contract, on throwaway PostgreSQL (harness),
// written through the database's store as the streaming service writes.
import { freshDatabase } from '../../../test/harness/index.ts'
import { queriesContract } from '../../../test/contracts/queries.contract.ts'
import { createLogger } from '../../platform/logger.ts'
import { PostgresDatabase } from './postgres-database.ts'

const logger = createLogger('silent')

queriesContract('postgres', {
  freshDatabase: async () => {
    const db = new PostgresDatabase({ url: await freshDatabase('queries'), poolMax: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 2_000, logger })
    await db.connect()
    const { store, queries } = db
    await db.migrate()
    return {
      queries,
      write: async (readings) => {
        await store.write(readings)
      },
      close: () => db.close()
    }
  }
})
