// A device message (or one item of it) that is not a valid reading, as a dead letter: the same dlq-*
// headers as the streaming service's (error, expected format, arrival time), with the MQTT topic in
// place of a Kafka origin. Its value is the item with the topic's sensor_id filled in, so that
// `sensorstream dlq replay` can send it to the readings topic once the cause is fixed.
import type { InvalidItem } from '../../domain/device-payload.ts'
import { WIRE_FORMAT } from '../../domain/wire.ts'
import type { OutgoingRecord } from '../../ports/bus.ts'
import { DLQ_HEADERS } from '../streaming/dead-letter.ts'

/** Longest error text put in a header: a huge bad message must not make a huge header. */
const MAX_ERROR_LENGTH = 1_000

export const MQTT_SOURCE = 'mqtt'

export function mqttDeadLetter(item: InvalidItem, mqttTopic: string, sensorId: string | undefined, receivedAtMs: number, dlqTopic: string): OutgoingRecord {
  const error = item.error.length > MAX_ERROR_LENGTH ? `${item.error.slice(0, MAX_ERROR_LENGTH)}…` : item.error
  return {
    topic: dlqTopic,
    key: sensorId ?? null,
    value: item.value,
    timestampMs: receivedAtMs,
    headers: {
      [DLQ_HEADERS.error]: error,
      [DLQ_HEADERS.topic]: MQTT_SOURCE,
      [DLQ_HEADERS.mqttTopic]: mqttTopic,
      [DLQ_HEADERS.timestamp]: String(receivedAtMs),
      [DLQ_HEADERS.format]: WIRE_FORMAT
    }
  }
}
