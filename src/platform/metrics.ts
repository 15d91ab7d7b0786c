// Prometheus metrics: each service owns a registry (so `sensorstream all` can serve several without
// name clashes) and may serve it on its own port.
import { createServer, type Server } from 'node:http'
import { collectDefaultMetrics, Registry } from 'prom-client'

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
