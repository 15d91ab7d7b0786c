// Options shared by the Kafka publisher, consumer and admin, and the client settings they all use.
import type { Logger } from '../../platform/logger.ts'
import { backoffMs } from '../../platform/retry.ts'

export interface KafkaBusOptions {
  /** bootstrap brokers, `host:port` */
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly logger: Logger
}

/** Kafka's default `max.message.bytes`, the largest record batch a topic takes, and a batch's own header. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
export const RECORD_BATCH_HEADER_BYTES = 61
/** The largest `recordBytes` a topic with the default limit takes. */
export const DEFAULT_MAX_RECORD_BYTES = DEFAULT_MAX_MESSAGE_BYTES - RECORD_BATCH_HEADER_BYTES

/**
 * Connection and retry settings for every @platformatic/kafka client. The client retries each
 * request on retryable errors and reconnects on the next attempt (its connection pool drops dead
 * sockets); these bound one call to roughly 8 s of trying, after which the adapter's own loop
 * (consumer) or the caller (publisher) takes over.
 */
export function baseClientOptions(options: KafkaBusOptions): {
  clientId: string
  bootstrapBrokers: string[]
  connectTimeout: number
  timeout: number
  retries: number
  retryDelay: (client: unknown, operationId: string, attempt: number) => number
} {
  return {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: 3_000,
    timeout: 10_000,
    retries: 6,
    retryDelay: (_client, _operationId, attempt) => backoffMs(attempt, 100, 2_000)
  }
}

// Re-exported for the consumer, which imports it from here.
export { backoffMs }
