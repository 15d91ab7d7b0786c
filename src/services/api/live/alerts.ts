// Alert events on a live stream (SSE `event: alert`, WebSocket `{"type":"alert",…}`): the client's
// sensor filter applies to them too. Best effort, like the readings: when the alert feed cannot be
// joined the stream goes on without them (GET /alerts/events has every event).
import type { RouteContext } from '../context.ts'
import { alertEventJson, type AlertEventJson } from '../../alerts/event-json.ts'

/** Delivers the alert events of sensors that `wanted` accepts until the returned function is called. */
export function followAlerts(ctx: RouteContext, wanted: (sensorId: string) => boolean, send: (event: AlertEventJson) => void): () => void {
  const feed = ctx.deps.alertFeed
  if (feed === undefined) return () => undefined
  let stop: (() => Promise<void>) | undefined
  let stopped = false
  feed
    .subscribeAlerts((events) => {
      if (stopped) return
      for (const e of events) if (wanted(e.sensorId)) send(alertEventJson(e))
    })
    .then(
      (unsubscribe) => {
        if (stopped) unsubscribe().catch(() => undefined)
        else stop = unsubscribe
      },
      (err: unknown) => ctx.logger.warn({ err }, 'alert feed unavailable: a live stream goes on without alerts')
    )
  return () => {
    stopped = true
    stop?.().catch(() => undefined)
  }
}
