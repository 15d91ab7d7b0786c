// A bare TCP client for the HTTP edge cases fetch cannot produce: malformed request lines, oversized
// headers, bodies trickled byte by byte. It returns the first response the server writes.
import { connect, type Socket } from 'node:net'

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** ms from the first byte sent to the response (or the close) */
  readonly elapsedMs: number
}

function parse(text: string, elapsedMs: number): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  const head = end === -1 ? text : text.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = end === -1 ? '' : text.slice(end + 4)
  const length = headers['content-length']
  if (length !== undefined) body = Buffer.from(body).subarray(0, Number(length)).toString()
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body, elapsedMs }
}

/**
 * Sends `chunks` (with `gapMs` between them) and resolves with the server's response once the
 * server closes the connection, a complete response has arrived, or `timeoutMs` passes (status 0).
 */
export function rawRequest(url: string, chunks: readonly (string | Buffer)[], options: { gapMs?: number; timeoutMs?: number } = {}): Promise<RawResponse> {
  const { port, hostname } = new URL(url)
  const gapMs = options.gapMs ?? 0
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve) => {
    const started = Date.now()
    const socket: Socket = connect({ host: hostname, port: Number(port) })
    let received = Buffer.alloc(0)
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(parse(received.toString('utf8'), Date.now() - started))
    }
    const timer = setTimeout(finish, timeoutMs)
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data])
      const text = received.toString('utf8')
      const end = text.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1]
      if (end !== -1 && length !== undefined && received.length >= Buffer.byteLength(text.slice(0, end + 4)) + Number(length)) finish()
    })
    socket.on('close', finish)
    socket.on('error', finish)
    socket.on('connect', () => {
      void (async () => {
        for (const chunk of chunks) {
          if (done || socket.destroyed) return
          socket.write(chunk)
          if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
        }
      })()
    })
  })
}
