// `sensorstream migrate`: waits for Postgres like every service, applies pending migrations and exits.
import { requireServices } from '../../platform/config.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { PostgresReadingStore } from '../../adapters/store/postgres.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'migrate', ['database'])
  const store = new PostgresReadingStore({
    url: config.database.url as string,
    poolMax: 1,
    statementTimeoutMs: 0,
    logger: logger.child({ component: 'store' })
  })
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
