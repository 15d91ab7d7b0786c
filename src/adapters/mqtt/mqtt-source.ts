// The MQTT side of the bridge (MQTT.js): persistent sessions (clean: false, a session expiry, a stable
// client id) subscribed at QoS 1, so that what was not acknowledged is delivered again after a
// reconnect or a restart. The PUBACK waits for the bridge: MQTT.js sends it when `handleMessage`'s
// callback is called (for MQTT 3.1.1 and 5 alike; `customHandleAcks` only picks the MQTT 5 reason
// code and still acks through that callback), and it hands a connection's messages over one at a
// time. So each connection holds at most one message until it is stored, and throughput comes from
// several connections, each one member of the shared subscription, whose messages go to Kafka in one
// batch.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { MessageSource, SourceMessage } from '../../ports/message-source.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'

export interface MqttSourceOptions {
  readonly url: string
  readonly filters: readonly string[]
  /** the shared-subscription group (`$share/<group>/<filter>`); undefined: a plain subscription */
  readonly group: string | undefined
  /** connection i of n > 1 is `<clientId>-<i>` */
  readonly clientId: string
  readonly connections: number
  /** 5, or 4 for MQTT 3.1.1 (brokers without MQTT 5, such as Aedes) */
  readonly protocolVersion: 4 | 5
  /** how long the broker keeps a session (and queues its messages) while the bridge is away (MQTT 5) */
  readonly sessionExpirySeconds: number
  readonly logger: Logger
  /** [10000] */
  readonly connectTimeoutMs?: number
}

/** Messages the broker may send a connection before it has acknowledged them (MQTT 5 Receive Maximum). */
const RECEIVE_MAXIMUM = 32
const QOS_FAILURE = 0x80

interface Connection {
  readonly client: MqttClient
  /** bumped when the connection drops: an ack for a message of an earlier connection is not sent */
  generation: number
}

export class MqttMessageSource implements MessageSource {
  readonly #options: MqttSourceOptions
  readonly #logger: Logger
  #connections: Connection[] = []
  #onMessage: ((message: SourceMessage) => void) | undefined
  /** delivered by a resumed session before start(): handed over by start() */
  readonly #early: SourceMessage[] = []
  #closed = false

  constructor(options: MqttSourceOptions) {
    this.#options = options
    this.#logger = options.logger.child({ component: 'mqtt' })
  }

  get capacity(): number {
    return this.#options.connections
  }

  get filters(): readonly string[] {
    return this.#options.filters
  }

  get describe(): string {
    const o = this.#options
    const subscription = o.group === undefined ? o.filters.join(',') : o.filters.map((f) => `$share/${o.group}/${f}`).join(',')
    const ids = o.connections === 1 ? o.clientId : `${o.clientId}-1…${o.connections}`
    return `${redact(o.url)} ${subscription} (MQTT ${o.protocolVersion === 5 ? '5' : '3.1.1'}, client ${ids}, QoS 1)`
  }

  /** Opens every connection (rejects with a retryable AppError when the broker cannot be reached). */
  async connect(): Promise<void> {
    await this.#end(true)
    const o = this.#options
    const opened = await Promise.allSettled(
      Array.from({ length: o.connections }, (_, i) => this.#open(o.connections === 1 ? o.clientId : `${o.clientId}-${i + 1}`))
    )
    this.#connections = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const failed = opened.find((r) => r.status === 'rejected')
    if (failed !== undefined) {
      await this.#end(true)
      const cause = failed.reason as Error
      throw new AppError('UNAVAILABLE', `mqtt broker ${redact(o.url)} cannot be reached: ${cause.message}`, { cause, retryable: true })
    }
  }

  async start(onMessage: (message: SourceMessage) => void): Promise<void> {
    this.#onMessage = onMessage
    for (const message of this.#early.splice(0)) onMessage(message)
    const o = this.#options
    const topics = o.group === undefined ? [...o.filters] : o.filters.map((f) => `$share/${o.group}/${f}`)
    for (const { client } of this.#connections) {
      const granted = await client.subscribeAsync(topics, { qos: 1 })
      const refused = granted.filter((g) => g.qos === QOS_FAILURE)
      if (refused.length > 0) {
        throw new AppError(
          'CONFIG_INVALID',
          `invalid configuration:\n  MQTT_TOPICS: the broker refused to subscribe to ${refused.map((g) => g.topic).join(', ')}${o.group === undefined ? '' : ' (does it support shared subscriptions?)'}`
        )
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#end(false)
  }

  async #open(clientId: string): Promise<Connection> {
    const o = this.#options
    const options: IClientOptions = {
      clientId,
      clean: false,
      protocolVersion: o.protocolVersion,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: 1_000,
      // After a reconnect the session is still there (clean: false), with its subscriptions.
      resubscribe: false,
      ...(o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: o.sessionExpirySeconds, receiveMaximum: RECEIVE_MAXIMUM } } : {})
    }
    // Set before any packet can arrive: a resumed session delivers its messages right after CONNACK,
    // and the default handler would acknowledge them at once.
    const client = mqtt.connect(o.url, options)
    const connection: Connection = { client, generation: 0 }
    client.handleMessage = (packet, callback) => {
      const generation = connection.generation
      let acked = false
      const message: SourceMessage = {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        receivedAtMs: Date.now(),
        ack: () => {
          if (acked || generation !== connection.generation) return
          acked = true
          callback()
        }
      }
      if (this.#onMessage === undefined) this.#early.push(message)
      else this.#onMessage(message)
    }
    await firstConnect(client)
    let down = false
    client.on('close', () => {
      connection.generation++
      if (!down && !this.#closed) this.#logger.warn({ clientId }, 'mqtt connection lost; reconnecting (unacknowledged messages come again)')
      down = true
    })
    client.on('connect', (connack) => {
      if (down) this.#logger.warn({ clientId, sessionPresent: connack.sessionPresent }, 'mqtt connection back')
      down = false
      // A broker that lost the session (expired, restarted without persistence) lost the subscription too.
      if (!connack.sessionPresent && this.#onMessage !== undefined) void this.#resubscribe(client)
    })
    client.on('error', (err) => this.#logger.warn({ err, clientId }, 'mqtt client error'))
    return connection
  }

  async #resubscribe(client: MqttClient): Promise<void> {
    const o = this.#options
    const topics = o.group === undefined ? [...o.filters] : o.filters.map((f) => `$share/${o.group}/${f}`)
    await client.subscribeAsync(topics, { qos: 1 }).catch((err: unknown) => this.#logger.warn({ err }, 'mqtt subscribe after reconnect failed'))
  }

  async #end(graceful: boolean): Promise<void> {
    const connections = this.#connections
    this.#connections = []
    await Promise.all(
      connections.map(async ({ client }) => {
        // A graceful end sends DISCONNECT: the session stays on the broker for its expiry interval.
        const ending = client.endAsync(!graceful)
        const timer = setTimeout(() => client.end(true), 2_000)
        await ending.catch((err: unknown) => this.#logger.warn({ err }, 'mqtt client did not close cleanly'))
        clearTimeout(timer)
      })
    )
  }
}

/** Resolves at the first CONNACK; rejects (and ends the client) if the first attempt fails. */
function firstConnect(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err?: Error): void => {
      client.off('connect', ok)
      client.off('error', fail)
      client.off('close', fail)
      client.end(true)
      reject(err ?? new Error('connection closed before CONNACK'))
    }
    const ok = (): void => {
      client.off('error', fail)
      client.off('close', fail)
      resolve()
    }
    client.once('connect', ok)
    client.once('error', fail)
    client.once('close', fail)
  })
}

/** Tells whether an MQTT broker answers at `url` (a throwaway clean session, closed at once). */
export async function mqttBrokerAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, { clean: true, protocolVersion: 4, connectTimeout: timeoutMs, reconnectPeriod: 0 }, false)
    await client.endAsync(true)
    return true
  } catch {
    return false
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString().replace(/\/$/, '')
  } catch {
    return url
  }
}
