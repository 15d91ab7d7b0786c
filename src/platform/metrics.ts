// Prometheus metrics (prom-client). Each service registers its own set on a registry it is given,
// through one exported function per service, so their metric names never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export { Registry }

/** A registry with the process metrics (CPU, memory, event loop lag, …) already registered. */
export function createRegistry(prefix = 'sensorstream_'): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix })
  return registry
}

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
    liveClients: new Gauge({ name: 'sensorstream_api_live_clients', help: 'Clients connected to GET /stream', registers }),
    liveClientsDropped: new Counter({
      name: 'sensorstream_api_live_clients_dropped_total',
      help: 'Live-stream clients disconnected because they fell too far behind',
      registers
    })
  }
}
