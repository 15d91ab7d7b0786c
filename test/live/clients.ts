// Live-stream clients for tests and the bench: an SSE reader over fetch that parses events, and a
// WebSocket client (ws) that collects reading messages.
import WebSocket from 'ws'

export interface ReceivedEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

export interface SseClient {
  readonly status: number
  readonly events: ReceivedEvent[]
  /** comment lines seen (heartbeats) */
  readonly comments: string[]
  /** resolves when the server ends the stream */
  readonly ended: Promise<void>
  close(): void
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController()
  const res = await fetch(url, { headers, signal: controller.signal })
  const events: ReceivedEvent[] = []
  const comments: string[] = []
  const ended = (async () => {
    if (res.body === null || res.status !== 200) return
    const decoder = new TextDecoder()
    let text = ''
    try {
      for await (const chunk of res.body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true })
        let end: number
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end)
          text = text.slice(end + 2)
          let id: string | undefined
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('id: ')) id = line.slice(4)
            else if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length > 0) events.push({ id, event, data: data.join('\n') })
        }
      }
    } catch {
      // aborted by close()
    }
  })()
  return { status: res.status, events, comments, ended, close: () => controller.abort() }
}

export interface WsClient {
  readonly socket: WebSocket
  /** every message received, parsed */
  readonly messages: Record<string, unknown>[]
  send(message: unknown): void
  /** resolves with the close code */
  readonly closed: Promise<number>
  close(): void
}

export async function openWs(url: string): Promise<WsClient> {
  const socket = new WebSocket(url)
  const messages: Record<string, unknown>[] = []
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>))
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return { socket, messages, send: (m) => socket.send(JSON.stringify(m)), closed, close: () => socket.close() }
}

export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
