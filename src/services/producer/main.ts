// `sensorstream producer`: simulated readings into Kafka.
import { KafkaBusAdmin, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { requireServices } from '../../platform/config.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { runProducer } from './run.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'producer', ['kafka'])
  const kafka = { brokers: config.kafka.brokers ?? [], clientId: `${config.kafka.clientId}-producer`, logger }
  const admin = new KafkaBusAdmin(kafka)
  const publisher = new KafkaBusPublisher(kafka)
  const opened = await connectAll({ admin, publisher }, logger, signal)
  try {
    // runProducer says "producer stopped" with what it sent; stopped before it began, say it here.
    if (signal.aborted) logger.info({ sent: 0 }, 'producer stopped')
    else await runProducer({ publisher, admin }, config, logger, signal)
  } finally {
    // Closing the publisher flushes what it still holds.
    await opened.close()
  }
}
