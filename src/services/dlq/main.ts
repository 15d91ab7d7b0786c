// `sensorstream dlq list|replay`: reads the dead-letter topic with a reader of its own; `replay`
// re-sends to the readings topic and records what it re-sent in Postgres (dlq_replayed).
import { requireServices } from '../../platform/config.ts'
import type { BusPublisher } from '../../ports/bus.ts'
import type { DeadLetterLedger } from '../../ports/dlq-ledger.ts'
import type { Lifecycle } from '../../ports/lifecycle.ts'
import { openBus, openDeadLetterLedger } from '../../wiring.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { parseDlqArgs } from './args.ts'
import { listDeadLetters, replayDeadLetters } from './commands.ts'

export const main: ServiceMain = async ({ config, logger, signal, args = [] }) => {
  const request = parseDlqArgs(args)
  // Listing needs only Kafka (with a database it also says which were re-sent); re-sending needs both.
  requireServices(config, `dlq ${request.command}`, request.command === 'replay' ? ['kafka', 'database'] : ['kafka'])
  const bus = openBus(config, logger)
  const ledger = openDeadLetterLedger(config, logger)
  const reader = bus.reader('dlq')
  const publisher = request.command === 'replay' ? bus.publisher('dlq') : undefined
  const parts: Record<string, Lifecycle> = { reader, ...(ledger === undefined ? {} : { ledger }), ...(publisher === undefined ? {} : { publisher }) }
  const opened = await connectAll(parts, logger, signal)
  const out = (line: string): void => void process.stdout.write(`${line}\n`)
  const topics = { dlqTopic: config.kafka.dlqTopic, topic: config.kafka.topic }
  try {
    await ledger?.migrate()
    if (request.command === 'list') await listDeadLetters({ reader, ...(ledger === undefined ? {} : { ledger }) }, topics, request, out, signal)
    else await replayDeadLetters({ reader, publisher: publisher as BusPublisher, ledger: ledger as DeadLetterLedger }, topics, request, out, signal)
  } finally {
    await opened.close()
  }
}
