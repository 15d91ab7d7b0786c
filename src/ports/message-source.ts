// A source of device messages that the bridge must acknowledge one by one once they are stored
// (MQTT: QoS 1, PUBACK). A message not acknowledged is delivered again: after a reconnect, a restart
// with the same session, or to another member of the same group.
import type { Lifecycle } from './lifecycle.ts'

export interface SourceMessage {
  /** where it was published, e.g. `sensors/s1/data` */
  readonly topic: string
  readonly payload: Buffer
  /** when it arrived, epoch milliseconds */
  readonly receivedAtMs: number
  /**
   * Tells the source the message is stored: it may forget it (MQTT: sends the PUBACK). A message
   * whose connection was lost meanwhile is not acknowledged: the broker delivers it again.
   */
  ack(): void
}

export interface MessageSource extends Lifecycle {
  /**
   * Subscribes and hands each message to `onMessage`. In flight (handed over, not acknowledged) are
   * at most `capacity` messages: the source takes no more until some are acknowledged.
   */
  start(onMessage: (message: SourceMessage) => void): Promise<void>
  /** messages that can be in flight at once; the bridge sends a batch at the latest when this many wait */
  readonly capacity: number
  /** the topic filters subscribed to (without any `$share/…` prefix) */
  readonly filters: readonly string[]
  /** for people: broker, subscription, session */
  readonly describe: string
}
