// `sensorstream migrate`: waits for Postgres like every service, applies pending migrations and exits.
import { requireServices, type Config } from '../../platform/config.ts'
import type { Logger } from '../../platform/logger.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { partitionOptions, PostgresReadingStore } from '../../adapters/store/postgres.ts'

/** A store for a one-off command (migrate, retention): no statement timeout, one connection. */
export function openCommandStore(config: Config, logger: Logger): PostgresReadingStore {
  return new PostgresReadingStore({
    url: config.database.url as string,
    poolMax: 1,
    statementTimeoutMs: 0,
    logger: logger.child({ component: 'store' }),
    partitions: partitionOptions(config.storage)
  })
}

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'migrate', ['database'])
  const store = openCommandStore(config, logger)
  const opened = await connectAll({ postgres: store }, logger, signal)
  try {
    if (signal.aborted) {
      logger.info('migrate stopped before it began')
      return
    }
    await store.migrate()
    logger.info('schema is up to date')
  } finally {
    await opened.close()
  }
}
