// PostgresReadingQueries against the ReadingQueries contract, on throwaway PostgreSQL (harness),
// written through PostgresReadingStore as the streaming service writes.
import { freshDatabase } from '../../../test/harness/index.ts'
import { queriesContract } from '../../../test/contracts/queries.contract.ts'
import { createLogger } from '../../platform/logger.ts'
import { PostgresReadingQueries } from './postgres-queries.ts'
import { PostgresReadingStore } from './postgres.ts'

const logger = createLogger('silent')

queriesContract('postgres', {
  freshDatabase: async () => {
    const store = new PostgresReadingStore({ url: await freshDatabase('queries'), poolMax: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 2_000, logger })
    await store.connect()
    await store.migrate()
    const queries = new PostgresReadingQueries({ pool: store.pool })
    await queries.connect()
    return {
      queries,
      write: async (readings) => {
        await store.write(readings)
      },
      close: async () => {
        await queries.close()
        await store.close()
      }
    }
  }
})
