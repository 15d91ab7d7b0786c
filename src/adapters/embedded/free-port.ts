// A free TCP port on the loopback interface, found by letting the kernel pick one.
import { connect, createServer } from 'node:net'

export const LOOPBACK = '127.0.0.1'

/** Asks the kernel for a free port on 127.0.0.1. `avoid` lists ports already promised elsewhere. */
export async function freePort(avoid: readonly number[] = []): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.once('error', reject)
      server.listen(0, LOOPBACK, () => {
        const address = server.address()
        const found = typeof address === 'object' && address !== null ? address.port : 0
        server.close(() => resolve(found))
      })
    })
    if (port > 0 && !avoid.includes(port)) return port
  }
}

/** True when `port` on `host` [127.0.0.1] can be bound right now. */
export function isPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: LOOPBACK })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}
