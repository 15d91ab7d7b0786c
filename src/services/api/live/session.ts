// One live client (an SSE response or a WebSocket): its sensor filter, where it is in the stream,
// and the resume rule. Resuming from a position, the session subscribes to the live feed first and
// buffers what arrives, reads what the client missed from Postgres, then drains the buffer, skipping
// the readings Postgres already gave (by (sensor_id, timestamp)); those keys are remembered for a
// few seconds more, since a reading can be stored (and so replayed) before its live copy arrives.
// Memory stays bounded: the buffer and the client's send queue both have a limit, past which the
// client is disconnected.
import type { Reading } from '../../../domain/reading.ts'
import { SensorFilter } from '../../../domain/sensor-pattern.ts'
import type { LiveFeed } from '../../../ports/live-feed.ts'
import type { ReadingQueries, StreamPosition } from '../../../ports/queries.ts'
import { comparePositions, encodePosition, positionOf, readingKey } from './position.ts'

/** readings read from Postgres per replay query */
export const REPLAY_PAGE = 1000
/** how long replayed readings are still told apart from their late live copies */
export const SEAM_GRACE_MS = 5000
/**
 * Replayed readings remembered for that: the newest ones (replay is oldest first), as their live
 * copies are the recently stored ones. Bounds memory whatever the size of the replay.
 */
export const SEAM_MAX_READINGS = 100_000

export interface LiveEvent {
  /** the client's position after this event: hand it back to resume */
  readonly id: string
  readonly reading: Reading
}

/** How a session reaches its client. */
export interface LiveSink {
  send(events: readonly LiveEvent[]): void
  /** bytes queued for the client, not taken yet */
  backlog(): number
  /** resolves once the client has taken some of its backlog, or is gone */
  drained(): Promise<void>
  /** the client is too far behind: disconnect it */
  drop(reason: string): void
}

export interface LiveSessionOptions {
  readonly feed: LiveFeed
  readonly queries: ReadingQueries
  readonly sink: LiveSink
  readonly resumeSeconds: number
  readonly bufferBytes: number
}

export class LiveSession {
  private readonly options: LiveSessionOptions
  private readonly filter = new SensorFilter()
  private watermark: StreamPosition | undefined
  private watermarkId = ''
  /** live readings held back while a replay runs */
  private held: Reading[] | undefined
  /** identities of replayed readings, and until when their live copies are skipped */
  private seam: Set<string> | undefined
  private seamUntil = 0
  private turn: Promise<unknown> = Promise.resolve()
  private leave: (() => Promise<void>) | undefined
  private closed = false

  constructor(options: LiveSessionOptions) {
    this.options = options
  }

  /** Subscribes to the live feed (rejects when it is unreachable). */
  async open(): Promise<void> {
    this.leave = await this.options.feed.subscribe((readings) => this.onLive(readings))
  }

  get patterns(): string[] {
    return this.filter.patterns
  }

  /**
   * Adds sensor ids or globs; with `resumeFrom`, first replays their readings after that position
   * (no further back than the resume window). Resolves with the number of readings replayed.
   */
  subscribe(patterns: readonly string[], resumeFrom?: StreamPosition): Promise<number> {
    const step = async (): Promise<number> => {
      if (resumeFrom === undefined) {
        this.filter.add(patterns)
        return 0
      }
      this.held ??= []
      this.filter.add(patterns)
      try {
        return await this.replay(patterns, resumeFrom)
      } finally {
        this.drainHeld()
      }
    }
    const next = this.turn.then(step, step)
    this.turn = next.catch(() => undefined)
    return next
  }

  unsubscribe(patterns: readonly string[]): void {
    this.filter.remove(patterns)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.held = undefined
    this.seam = undefined
    this.leave?.().catch(() => undefined)
  }

  private async replay(patterns: readonly string[], resumeFrom: StreamPosition): Promise<number> {
    const { queries, sink, resumeSeconds, bufferBytes } = this.options
    const floor: StreamPosition = { tsMs: Date.now() - resumeSeconds * 1000, sensorId: '' }
    let after = comparePositions(resumeFrom, floor) > 0 ? resumeFrom : floor
    this.advance(resumeFrom)
    const seam = this.seam ?? new Set<string>()
    this.seam = seam
    let count = 0
    for (;;) {
      const page = await queries.replay({ after, patterns, limit: REPLAY_PAGE })
      if (this.closed) return count
      for (const r of page) seam.add(readingKey(r))
      if (seam.size > SEAM_MAX_READINGS) {
        for (const key of seam) {
          seam.delete(key)
          if (seam.size <= SEAM_MAX_READINGS) break
        }
      }
      this.deliver(page, false)
      count += page.length
      const last = page[page.length - 1]
      if (last === undefined || page.length < REPLAY_PAGE) return count
      after = positionOf(last)
      // Replay at the client's pace: wait while it has half its allowance queued.
      while (!this.closed && sink.backlog() > bufferBytes / 2) await sink.drained()
    }
  }

  private drainHeld(): void {
    const held = this.held ?? []
    this.held = undefined
    this.seamUntil = Date.now() + SEAM_GRACE_MS
    this.deliver(
      held.filter((r) => this.filter.matches(r.sensor_id)),
      true
    )
  }

  private onLive(readings: readonly Reading[]): void {
    if (this.closed) return
    if (this.held !== undefined) {
      for (const r of readings) if (this.filter.matches(r.sensor_id)) this.held.push(r)
      // ~32 bytes a held reading at the least: the same allowance as the send queue.
      if (this.held.length * 32 > this.options.bufferBytes) this.drop('fell too far behind during a replay')
      return
    }
    this.deliver(
      readings.filter((r) => this.filter.matches(r.sensor_id)),
      true
    )
  }

  /** `fromLive`: these may be live copies of replayed readings, which the client already has. */
  private deliver(readings: readonly Reading[], fromLive: boolean): void {
    if (this.closed || readings.length === 0) return
    const { sink, bufferBytes } = this.options
    if (sink.backlog() > bufferBytes) {
      this.drop(`more than ${bufferBytes} bytes behind`)
      return
    }
    if (this.seam !== undefined && this.held === undefined && Date.now() > this.seamUntil) this.seam = undefined
    const seam = fromLive ? this.seam : undefined
    const events: LiveEvent[] = []
    for (const r of readings) {
      if (seam?.has(readingKey(r)) === true) continue
      this.advance(positionOf(r))
      events.push({ id: this.watermarkId, reading: r })
    }
    if (events.length > 0) sink.send(events)
  }

  /** Moves the client's position forward, never past the server's clock (see README, live stream). */
  private advance(p: StreamPosition): void {
    const now = Date.now()
    const capped = p.tsMs > now ? { tsMs: now, sensorId: '' } : p
    if (this.watermark !== undefined && comparePositions(capped, this.watermark) <= 0) return
    this.watermark = capped
    this.watermarkId = encodePosition(capped)
  }

  private drop(reason: string): void {
    if (this.closed) return
    this.options.sink.drop(reason)
    this.close()
  }
}
