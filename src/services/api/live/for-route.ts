// A LiveSession as the routes make one: the API's guarded ports and stream settings, and a dropped
// client counted and logged in one place.
import type { RouteContext } from '../context.ts'
import { LiveSession, type LiveSink } from './session.ts'

export interface RouteSink extends Omit<LiveSink, 'drop'> {
  /** cut the connection (the drop is already counted and logged) */
  cut(): void
}

export function liveSession(ctx: RouteContext, sink: RouteSink): LiveSession {
  const { deps, config, metrics, logger } = ctx
  return new LiveSession({
    feed: deps.live,
    queries: deps.queries,
    resumeSeconds: config.stream.resumeSeconds,
    bufferBytes: config.stream.clientBufferBytes,
    sink: {
      ...sink,
      drop: (reason) => {
        metrics.liveClientsDropped.inc()
        logger.info({ buffered: sink.backlog(), reason }, 'live client too slow: disconnected')
        sink.cut()
      }
    }
  })
}
