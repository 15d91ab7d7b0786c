// Prometheus metrics: each service owns a registry (so `sensorstream all` can serve several without
// name clashes) and may serve it on its own port.
import { createServer, type Server } from 'node:http'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  return registry
}

/** Adds the Node process metrics (CPU, memory, event loop lag) to a registry; once per process. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
}

/** Serves `GET /metrics` on its own port (the streaming service has no other HTTP server). */
export async function serveMetrics(registry: Registry, port: number, host = '0.0.0.0'): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"NOT_FOUND","message":"only GET /metrics here"}')
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message)
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const actualPort = typeof address === 'object' && address !== null ? address.port : port
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

// ---- API service (src/services/api) ----

export interface ApiMetrics {
  /** labels: method, route (the route pattern, or `unmatched`), status */
  readonly requests: Counter<'method' | 'route' | 'status'>
  /** seconds; labels: method, route, status */
  readonly duration: Histogram<'method' | 'route' | 'status'>
  /** labels: dependency (postgres, redis), operation, kind (unavailable, timeout, error) */
  readonly dependencyErrors: Counter<'dependency' | 'operation' | 'kind'>
  /** reads answered without Redis (it failed); labels: route */
  readonly cacheBypassed: Counter<'route'>
  /** readings accepted by POST /data; labels: result (inserted, duplicate) */
  readonly readingsWritten: Counter<'result'>
  readonly liveClients: Gauge
  /** live-stream clients disconnected because they read too slowly */
  readonly liveClientsDropped: Counter
  /** bytes of request bodies reserved by requests in flight (API_BODY_BUDGET_BYTES bounds it) */
  readonly bodyBytesInFlight: Gauge
  /** stats and series requests by what the answer cache did; labels: result (hit, miss, stale, bypass) */
  readonly answerCache: Counter<'result'>
  /** bytes the answer cache holds (API_STATS_CACHE_MB bounds it) */
  readonly answerCacheBytes: Gauge
}

/** The API service's metrics, registered on `registry` (once per registry). */
export function apiMetrics(registry: Registry): ApiMetrics {
  const registers = [registry]
  return {
    requests: new Counter({
      name: 'sensorstream_api_requests_total',
      help: 'HTTP requests answered, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers
    }),
    duration: new Histogram({
      name: 'sensorstream_api_request_duration_seconds',
      help: 'HTTP request latency, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    dependencyErrors: new Counter({
      name: 'sensorstream_api_dependency_errors_total',
      help: 'Failed calls from the API to Postgres or Redis, by dependency, operation and kind',
      labelNames: ['dependency', 'operation', 'kind'],
      registers
    }),
    cacheBypassed: new Counter({
      name: 'sensorstream_api_cache_bypassed_total',
      help: 'Requests answered without Redis because it failed, by route',
      labelNames: ['route'],
      registers
    }),
    readingsWritten: new Counter({
      name: 'sensorstream_api_readings_written_total',
      help: 'Readings accepted by POST /data, by result (inserted or duplicate)',
      labelNames: ['result'],
      registers
    }),
    liveClients: new Gauge({ name: 'sensorstream_api_live_clients', help: 'Clients connected to GET /stream or GET /ws', registers }),
    liveClientsDropped: new Counter({
      name: 'sensorstream_api_live_clients_dropped_total',
      help: 'Live-stream clients disconnected because they fell too far behind',
      registers
    }),
    bodyBytesInFlight: new Gauge({
      name: 'sensorstream_api_body_bytes_in_flight',
      help: 'Bytes of request bodies held by requests in flight (declared lengths), bounded by API_BODY_BUDGET_BYTES',
      registers
    }),
    answerCache: new Counter({
      name: 'sensorstream_api_answer_cache_total',
      help: 'Stats and series requests by what the answer cache did: hit (served a kept answer), miss, stale (read and kept), bypass (read, not kept)',
      labelNames: ['result'],
      registers
    }),
    answerCacheBytes: new Gauge({
      name: 'sensorstream_api_answer_cache_bytes',
      help: 'Bytes of answers the answer cache holds, bounded by API_STATS_CACHE_MB',
      registers
    })
  }
}
