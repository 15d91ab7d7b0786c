// `sensorstream mqtt`: the bridge from an MQTT broker to the readings topic; and the bridge `all` runs.
import { KafkaBusAdmin, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts'
import { mqttBrokerAnswers, MqttMessageSource } from '../../adapters/mqtt/mqtt-source.ts'
import { isPortFree, LOOPBACK } from '../../local/free-port.ts'
import { requireServices, type Config, type MqttConfig } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { BusAdmin, BusPublisher } from '../../ports/bus.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { runBridge, type BridgeCounts } from './bridge.ts'

export const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'
/** messages per Kafka send at most, and how long a batch waits for more once it has one */
const MAX_BATCH_MESSAGES = 5_000
const LINGER_MS = 5

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'mqtt', ['kafka'])
  if (!config.mqtt.enabled) throw new AppError('CONFIG_INVALID', 'invalid configuration:\n  MQTT_URL: is off; `sensorstream mqtt` needs a broker, e.g. mqtt://127.0.0.1:1883')
  const kafka = { brokers: config.kafka.brokers ?? [], clientId: `${config.kafka.clientId}-mqtt`, logger }
  const admin = new KafkaBusAdmin(kafka)
  const publisher = new KafkaBusPublisher(kafka)
  const source = mqttSource(config.mqtt, config.mqtt.url ?? DEFAULT_MQTT_URL, logger, { shared: true })
  // Kafka first: the source starts receiving (a resumed session at once) when it connects.
  const opened = await connectAll({ admin, publisher, source }, logger, signal)
  try {
    if (!signal.aborted) await bridge({ admin, publisher, source }, config, logger, signal)
  } finally {
    // The source closes first: what it still holds unacknowledged stays with the broker.
    await opened.close()
  }
}

/** The MQTT source for `url`; `shared: false` for a broker without shared subscriptions (Aedes). */
export function mqttSource(mqtt: MqttConfig, url: string, logger: Logger, how: { shared: boolean; connections?: number; protocolVersion?: 4 | 5 }): MqttMessageSource {
  return new MqttMessageSource({
    url,
    filters: mqtt.topics,
    group: how.shared ? mqtt.group : undefined,
    clientId: mqtt.clientId,
    connections: how.connections ?? mqtt.connections,
    protocolVersion: how.protocolVersion ?? mqtt.protocolVersion,
    sessionExpirySeconds: mqtt.sessionExpirySeconds,
    logger
  })
}

/** `onSubscribed`: called once the subscription is in place (messages published from then on are taken). */
export async function bridge(deps: { admin: BusAdmin; publisher: BusPublisher; source: MqttMessageSource }, config: Config, logger: Logger, signal: AbortSignal, onSubscribed?: () => void): Promise<BridgeCounts> {
  const { kafka } = config
  await deps.admin.ensureTopics([
    { name: kafka.topic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor },
    { name: kafka.dlqTopic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor }
  ])
  return runBridge(
    { source: deps.source, publisher: deps.publisher },
    { topic: kafka.topic, dlqTopic: kafka.dlqTopic, maxBatchMessages: MAX_BATCH_MESSAGES, lingerMs: LINGER_MS, ...(onSubscribed === undefined ? {} : { onSubscribed }) },
    logger,
    signal
  )
}

// The MQTT side of `sensorstream all`, so that `mosquitto_pub -t sensors/s1/data -m '{"value":1}'`
// works out of the box. MQTT_URL set: bridge from there. Unset: from 127.0.0.1:MQTT_EMBEDDED_PORT,
// where an embedded Aedes broker is started when the port is free; when a broker already listens
// there (a system Mosquitto), the bridge takes its messages instead, as a user publishing to the
// usual port expects; anything else there: no bridge, said so.
export interface AllMqtt {
  readonly source: MqttMessageSource | undefined
  readonly describe: string
  close(): Promise<void>
}

export async function chooseAllMqtt(config: Config, logger: Logger): Promise<AllMqtt> {
  const log = logger.child({ service: 'mqtt' })
  const none = (describe: string): AllMqtt => ({ source: undefined, describe, close: async () => undefined })
  if (!config.mqtt.enabled) return none('off (MQTT_URL=off)')
  if (config.mqtt.url !== undefined) {
    const source = mqttSource(config.mqtt, config.mqtt.url, log, { shared: true })
    return { source, describe: source.describe, close: () => source.close() }
  }
  const port = config.mqtt.embeddedPort
  const local = `mqtt://${LOOPBACK}:${port}`
  if (await isPortFree(port, LOOPBACK)) {
    let broker: EmbeddedBroker
    try {
      broker = await startEmbeddedBroker({ host: LOOPBACK, port, logger: log })
    } catch (err) {
      log.warn({ err }, 'embedded MQTT broker did not start')
      return none(`off: ${LOOPBACK}:${port} could not be listened on (set MQTT_URL or MQTT_EMBEDDED_PORT)`)
    }
    // Aedes has neither MQTT 5 nor shared subscriptions: one plain 3.1.1 session, the only bridge.
    const source = mqttSource(config.mqtt, broker.url, log, { shared: false, connections: 1, protocolVersion: 4 })
    return {
      source,
      describe: `${source.describe}   (embedded Aedes broker, in memory)`,
      close: async () => {
        await source.close()
        await broker.close()
      }
    }
  }
  if (await mqttBrokerAnswers(local)) {
    const source = mqttSource(config.mqtt, local, log, { shared: true })
    return { source, describe: `${source.describe}   (the MQTT broker already on ${LOOPBACK}:${port}; set MQTT_URL to choose another)`, close: () => source.close() }
  }
  return none(`off: ${LOOPBACK}:${port} is taken by something that is not an MQTT broker (set MQTT_URL or MQTT_EMBEDDED_PORT)`)
}
