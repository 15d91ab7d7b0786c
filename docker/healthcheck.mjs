// The container health check of the sensorstream image (Dockerfile HEALTHCHECK). It finds which
// service runs as PID 1 and checks it the way that service can be checked:
//   api        GET http://127.0.0.1:$PORT/healthz answers 200
//   streaming  GET http://127.0.0.1:$METRICS_PORT/metrics answers 200 (skipped when METRICS_PORT=0)
//   producer   the first of KAFKA_BROKERS accepts a TCP connection
// Exit 0: healthy; 1: unhealthy.
/* global process, fetch, AbortSignal */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'

/* eslint-disable no-restricted-properties -- a container probe, not service configuration */
const env = process.env
const args = readFileSync('/proc/1/cmdline', 'utf8').split('\0')
const service = ['api', 'streaming', 'producer', 'all', 'migrate'].find((s) => args.includes(s)) ?? 'api'

async function httpOk(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) })
  return res.ok
}

function tcpOk(hostPort) {
  const i = hostPort.lastIndexOf(':')
  return new Promise((resolve) => {
    const socket = connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(4000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function healthy() {
  switch (service) {
    case 'api':
    case 'all':
      return httpOk(env.PORT || '3000', '/healthz')
    case 'streaming':
      return env.METRICS_PORT === '0' ? true : httpOk(env.METRICS_PORT || '9464', '/metrics')
    case 'producer':
      return tcpOk((env.KAFKA_BROKERS || '').split(',')[0].trim())
    default:
      return true
  }
}

healthy().then(
  (ok) => process.exit(ok ? 0 : 1),
  () => process.exit(1)
)
