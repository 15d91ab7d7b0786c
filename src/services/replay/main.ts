// `sensorstream replay --from … [--to …] [--partition …]`: re-reads part of the readings topic into
// Postgres and Redis (run.ts), printing progress on stderr and a summary on stdout.
import { requireServices } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import { openBus, openLatestValues, openPostgres } from '../../wiring.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { parseReplayArgs } from './args.ts'
import { runReplay, summaryLines } from './run.ts'

export const PROGRESS_EVERY_MS = 5_000

export const main: ServiceMain = async ({ config, logger, signal, args = [] }) => {
  const request = parseReplayArgs(args)
  requireServices(config, 'replay', ['kafka', 'database', 'redis'])
  const postgres = openPostgres(config, { logger })
  const parts = { store: postgres, latest: openLatestValues(config, logger), reader: openBus(config, logger).reader('replay') }
  const opened = await connectAll(parts, logger, signal)
  try {
    await postgres.migrations.migrate()
    const summary = await runReplay({ store: postgres.store, latest: parts.latest, reader: parts.reader, logger }, request, {
      topic: config.kafka.topic,
      batchMaxRows: config.streaming.batchMaxRows,
      progressEveryMs: PROGRESS_EVERY_MS,
      progress: (line) => process.stderr.write(`${line}\n`),
      signal
    })
    process.stdout.write(summaryLines(summary))
    if (!summary.complete) throw new AppError('UNAVAILABLE', 'replay stopped before its end: run it again (a replay changes nothing it already stored)')
  } finally {
    await opened.close()
  }
}
