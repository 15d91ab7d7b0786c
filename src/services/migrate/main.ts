// `sensorstream migrate`: applies pending Postgres migrations and exits.
import { requireServices } from '../../platform/config.ts'
import type { ServiceMain } from '../service.ts'
import { partitionOptions, PostgresReadingStore } from '../../adapters/store/postgres.ts'

export const main: ServiceMain = async ({ config, logger }) => {
  requireServices(config, 'migrate', ['database'])
  const store = new PostgresReadingStore({
    url: config.database.url as string,
    poolMax: 1,
    statementTimeoutMs: 0,
    logger: logger.child({ component: 'store' }),
    partitions: partitionOptions(config.storage)
  })
  try {
    await store.migrate()
    logger.info('schema is up to date')
  } finally {
    await store.close()
  }
}
