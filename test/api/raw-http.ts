// A bare TCP client for the HTTP edge cases fetch cannot produce: malformed request lines, oversized
// headers, bodies trickled byte by byte, requests sent behind one still in flight.
import { connect } from 'node:net'

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** ms from the connection to the end of the exchange */
  readonly elapsedMs: number
}

export interface RawOptions {
  /** ms between chunks */
  readonly gapMs?: number
  /** give up (status 0 when nothing came) after this long */
  readonly timeoutMs?: number
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

/** True once `text` holds one whole response with a Content-Length. */
function complete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n')
  const length = end === -1 ? undefined : /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1]
  return length !== undefined && Buffer.byteLength(text) >= Buffer.byteLength(text.slice(0, end + 4)) + Number(length)
}

function exchange(url: string, chunks: readonly (string | Buffer)[], options: RawOptions, untilClose: boolean): Promise<RawResponse[]> {
  const { port, hostname } = new URL(url)
  return new Promise((resolve) => {
    const started = Date.now()
    let received = ''
    let done = false
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      void (async () => {
        for (const chunk of chunks) {
          if (done || socket.destroyed) return
          socket.write(chunk)
          if ((options.gapMs ?? 0) > 0) await new Promise((r) => setTimeout(r, options.gapMs))
        }
      })()
    })
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const parts = received.split(/(?=HTTP\/1\.[01] \d{3} )/).filter((p) => p !== '')
      resolve((parts.length === 0 ? [''] : parts).map((p) => parse(p, Date.now() - started)))
    }
    const timer = setTimeout(finish, options.timeoutMs ?? 10_000)
    socket.setEncoding('utf8')
    socket.on('data', (data: string) => {
      received += data
      if (!untilClose && complete(received)) finish()
    })
    socket.on('close', finish)
    socket.on('error', finish)
  })
}

/** Sends `chunks` and resolves with the first response, once complete or when the server closes. */
export async function rawRequest(url: string, chunks: readonly (string | Buffer)[], options: RawOptions = {}): Promise<RawResponse> {
  return (await exchange(url, chunks, options, false))[0] as RawResponse
}

/** Sends `chunks` and resolves with every response the server writes, until it closes the connection. */
export function rawResponses(url: string, chunks: readonly (string | Buffer)[], options: RawOptions = {}): Promise<RawResponse[]> {
  return exchange(url, chunks, options, true)
}
