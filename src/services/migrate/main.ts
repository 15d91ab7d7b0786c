// `sensorstream migrate`: waits for Postgres like every service, applies pending migrations and exits.
import { requireServices } from '../../platform/config.ts'
import { openPostgres } from '../../wiring.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'migrate', ['database'])
  const postgres = openPostgres(config, { role: 'command', logger: logger.child({ component: 'store' }) })
  const opened = await connectAll({ postgres }, logger, signal)
  try {
    if (signal.aborted) {
      logger.info('migrate stopped before it began')
      return
    }
    await postgres.migrations.migrate()
    logger.info('schema is up to date')
  } finally {
    await opened.close()
  }
}
