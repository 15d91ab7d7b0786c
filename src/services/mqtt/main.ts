// `sensorstream mqtt`: the bridge from an MQTT broker to the readings topic (bridge.ts).
import { requireServices } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import { openBus, openMqttSource } from '../../wiring.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { bridge } from './bridge.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'mqtt', ['kafka'])
  if (!config.mqtt.enabled)
    throw new AppError('CONFIG_INVALID', 'invalid configuration:\n  MQTT_URL: is off; `sensorstream mqtt` needs a broker, e.g. mqtt://127.0.0.1:1883')
  const bus = openBus(config, logger)
  const admin = bus.admin('mqtt')
  const publisher = bus.publisher('mqtt')
  const source = openMqttSource(config, logger)
  // Kafka first: the source starts receiving (a resumed session at once) when it connects.
  const opened = await connectAll({ admin, publisher, source }, logger, signal)
  try {
    if (!signal.aborted) await bridge({ admin, publisher, source }, config, logger, signal)
  } finally {
    // The source closes first: what it still holds unacknowledged stays with the broker.
    await opened.close()
  }
}
