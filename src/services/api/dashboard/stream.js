// The live stream (GET /stream) read with fetch rather than EventSource, which cannot send an
// Authorization header: the response body is parsed as server-sent events (`id:`, `event:`,
// `data:`, `retry:` lines; `:` comments; a blank line ends an event) and each event is dispatched
// as a MessageEvent of its type, as EventSource does. After a drop it reconnects by itself with
// `Last-Event-ID: <the last id received>`, so the server first replays what was missed.
import { apiFetch } from './api.js'

export class LiveStream extends EventTarget {
  /** @param {string} url */
  constructor(url) {
    super()
    this.url = url
    this.lastEventId = ''
    this.retryMs = 2000
    this.controller = new AbortController()
    this.run()
  }

  close() {
    this.controller.abort()
  }

  async run() {
    const signal = this.controller.signal
    while (!signal.aborted) {
      try {
        const headers = { accept: 'text/event-stream' }
        if (this.lastEventId !== '') headers['last-event-id'] = this.lastEventId
        const res = await apiFetch(this.url, { headers, cache: 'no-store', signal })
        if (res.status === 400 && this.lastEventId !== '') {
          // An id the server no longer takes: start afresh rather than fail for ever.
          this.lastEventId = ''
          continue
        }
        if (!res.ok || res.body === null) throw new Error(`GET ${this.url}: ${res.status}`)
        this.dispatchEvent(new Event('open'))
        await this.read(res.body)
      } catch (err) {
        if (signal.aborted) return
        console.info(`live stream: ${err.message}`)
      }
      if (signal.aborted) return
      this.dispatchEvent(new Event('error'))
      await new Promise((resolve) => setTimeout(resolve, this.retryMs))
    }
  }

  /** Reads the body to its end, dispatching each event as it is complete. */
  async read(body) {
    const parser = new EventParser((type, data) => this.dispatchEvent(new MessageEvent(type, { data, lastEventId: this.lastEventId })), this)
    const reader = body.pipeThrough(new TextDecoderStream()).getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      parser.push(value)
    }
  }
}

/** The event-stream format, fed text as it arrives (a line may span chunks, `\r\n` too). */
export class EventParser {
  /**
   * @param {(type: string, data: string) => void} dispatch
   * @param {{ lastEventId: string, retryMs: number }} state the last event id and retry delay, updated in place
   */
  constructor(dispatch, state) {
    this.dispatch = dispatch
    this.state = state
    this.buffer = ''
    this.type = ''
    this.data = []
    /** the id buffer: it becomes the stream's last event id when an event ends, not before */
    this.id = state.lastEventId
  }

  /** @param {string} text */
  push(text) {
    this.buffer += text
    const ends = /\r\n|\r|\n/g
    let start = 0
    let match
    while ((match = ends.exec(this.buffer)) !== null) {
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break
      this.line(this.buffer.slice(start, match.index))
      start = ends.lastIndex
    }
    this.buffer = this.buffer.slice(start)
  }

  line(line) {
    if (line === '') {
      this.state.lastEventId = this.id
      if (this.data.length > 0) this.dispatch(this.type === '' ? 'message' : this.type, this.data.join('\n'))
      this.type = ''
      this.data = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.data.push(value)
    else if (field === 'event') this.type = value
    else if (field === 'id' && !value.includes('\u0000')) this.id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.state.retryMs = Number(value)
  }
}
