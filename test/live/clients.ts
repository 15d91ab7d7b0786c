// Live-stream clients for tests and the bench: an SSE reader over fetch that parses events, and a
// WebSocket client (ws) that collects reading messages.
import WebSocket from 'ws'
import { waitFor } from '../harness/wait.ts'

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

/** The harness's waitFor, polled every 20 ms (the clients' buffers fill in-process). */
export function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  return waitFor(what, probe, timeoutMs, 20)
}

export async function postReadings(base: string, readings: unknown): Promise<void> {
  const res = await fetch(`${base}/data`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(readings) })
  if (res.status !== 201) throw new Error(`POST /data answered ${res.status}: ${await res.text()}`)
}

/** Posts readings of `prefix-0…prefix-(sensors-1)` one millisecond apart and remembers each as "id@ts". */
export function poster(base: string, prefix: string, sensors: number) {
  const t0 = Math.floor(Date.now() / 1000) - 60
  const posted: string[] = []
  let n = 0
  return {
    posted,
    async post(count: number): Promise<void> {
      const batch = Array.from({ length: count }, () => {
        const i = n++
        return { sensor_id: `${prefix}-${i % sensors}`, value: i, timestamp: t0 + i / 1000 }
      })
      posted.push(...batch.map((r) => `${r.sensor_id}@${r.timestamp}`))
      await postReadings(base, batch)
    },
    /** keeps posting small batches until the returned function is called (and awaited) */
    keepPosting(): () => Promise<void> {
      let writing = true
      const writer = (async () => {
        while (writing) await this.post(7)
      })()
      return async () => {
        writing = false
        await writer
      }
    }
  }
}
