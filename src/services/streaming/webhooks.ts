// Webhook deliveries of alert events, at least once: an outbox row per event (inserted with the
// event), claimed FOR UPDATE SKIP LOCKED with a lease so that two instances do not send the same one
// at once, POSTed as JSON signed with HMAC-SHA256 of the body (X-Sensorstream-Signature:
// sha256=<hex>) and an Idempotency-Key stable per event; a non-2xx answer or no answer within
// WEBHOOK_TIMEOUT_MS is retried with exponential backoff, up to WEBHOOK_MAX_ATTEMPTS attempts.
import { createHmac } from 'node:crypto'
import type { Logger } from '../../platform/logger.ts'
import type { DeliveryOutbox, WebhookDelivery } from '../../ports/alerts.ts'
import { alertEventJson } from '../alerts/event-json.ts'
import { sleep } from './alert-no-data.ts'

export interface WebhookOptions {
  readonly timeoutMs: number
  readonly maxAttempts: number
  /** delay after the first failure; doubled after each next one */
  readonly backoffMs: number
}

/** deliveries claimed per round */
const CLAIM_BATCH = 16
/** longest wait between two retries */
const MAX_BACKOFF_MS = 10 * 60_000
/** how often an idle sender looks for due deliveries */
const POLL_MS = 250

export const SIGNATURE_HEADER = 'x-sensorstream-signature'

export function sign(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

export function backoffMs(options: WebhookOptions, attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, options.backoffMs * 2 ** (attempt - 1))
}

/** Sends one delivery; resolves with undefined on a 2xx answer, else with what went wrong. */
export async function send(delivery: WebhookDelivery, options: WebhookOptions): Promise<string | undefined> {
  const body = JSON.stringify(alertEventJson(delivery.event))
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'idempotency-key': `alert-event-${delivery.eventId}`,
    'x-sensorstream-event': delivery.event.kind,
    'x-sensorstream-attempt': String(delivery.attempt)
  }
  if (delivery.secret !== undefined) headers[SIGNATURE_HEADER] = sign(body, delivery.secret)
  try {
    const response = await fetch(delivery.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) })
    await response.body?.cancel().catch(() => undefined)
    return response.ok ? undefined : `HTTP ${response.status}`
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : (err as Error).message
  }
}

/** One round: claims the due deliveries and sends them; resolves with how many were claimed. */
export async function deliverOnce(outbox: DeliveryOutbox, options: WebhookOptions, logger: Logger): Promise<number> {
  // The lease outlasts a send: a delivery is claimed again only if this process died sending it.
  const claimed = await outbox.claimDeliveries(CLAIM_BATCH, 2 * options.timeoutMs + 1000)
  await Promise.all(
    claimed.map(async (d) => {
      const problem = await send(d, options)
      if (problem === undefined) return outbox.delivered(d.eventId)
      const last = d.attempt >= options.maxAttempts
      logger.warn({ event: d.eventId, url: d.url, attempt: d.attempt, problem, gaveUp: last }, 'webhook delivery failed')
      return outbox.failed(d.eventId, problem, last ? undefined : backoffMs(options, d.attempt))
    })
  )
  return claimed.length
}

export async function runWebhookSender(outbox: DeliveryOutbox, options: WebhookOptions, logger: Logger, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    let claimed = 0
    try {
      claimed = await deliverOnce(outbox, options, logger)
    } catch (err) {
      logger.warn({ err }, 'webhook round failed; next one in due time')
    }
    if (claimed < CLAIM_BATCH) await sleep(POLL_MS, signal)
  }
}
