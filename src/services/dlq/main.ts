// `sensorstream dlq list|replay`: reads the dead-letter topic with a reader of its own; `replay`
// re-sends to the readings topic and records what it re-sent in Postgres (dlq_replayed).
import { KafkaBusPublisher, KafkaBusReader } from '../../adapters/bus/kafka.ts'
import { PostgresDeadLetterLedger } from '../../adapters/store/postgres-dlq-ledger.ts'
import { requireServices } from '../../platform/config.ts'
import type { Lifecycle } from '../../ports/lifecycle.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { parseDlqArgs } from './args.ts'
import { listDeadLetters, replayDeadLetters } from './commands.ts'

export const main: ServiceMain = async ({ config, logger, signal, args = [] }) => {
  const request = parseDlqArgs(args)
  // Listing needs only Kafka (with a database it also says which were re-sent); re-sending needs both.
  requireServices(config, `dlq ${request.command}`, request.command === 'replay' ? ['kafka', 'database'] : ['kafka'])
  const kafka = { brokers: config.kafka.brokers ?? [], clientId: `${config.kafka.clientId}-dlq`, logger }
  const ledger =
    config.database.url === undefined
      ? undefined
      : new PostgresDeadLetterLedger({ url: config.database.url, statementTimeoutMs: config.database.statementTimeoutMs, logger })
  const reader = new KafkaBusReader(kafka)
  const publisher = request.command === 'replay' ? new KafkaBusPublisher(kafka) : undefined
  const parts: Record<string, Lifecycle> = { reader, ...(ledger === undefined ? {} : { ledger }), ...(publisher === undefined ? {} : { publisher }) }
  const opened = await connectAll(parts, logger, signal)
  const out = (line: string): void => void process.stdout.write(`${line}\n`)
  const topics = { dlqTopic: config.kafka.dlqTopic, topic: config.kafka.topic }
  try {
    await ledger?.migrate()
    if (request.command === 'list') await listDeadLetters({ reader, ...(ledger === undefined ? {} : { ledger }) }, topics, request, out, signal)
    else await replayDeadLetters({ reader, publisher: publisher as KafkaBusPublisher, ledger: ledger as PostgresDeadLetterLedger }, topics, request, out, signal)
  } finally {
    await opened.close()
  }
}
