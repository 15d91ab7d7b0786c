// Event ids of the live stream: "<unix ms>-<sensor_id>", a place in the (timestamp, sensor_id)
// order of readings. A client hands the last one back (Last-Event-ID, or `resume` over WebSocket)
// to be replayed what it missed.
import type { Reading } from '../../../domain/reading.ts'
import { encodeReading } from '../../../domain/wire.ts'
import type { StreamPosition } from '../../../ports/queries.ts'

const POSITION_RE = /^(\d{1,15})-([A-Za-z0-9._:-]{0,128})$/

export function encodePosition(p: StreamPosition): string {
  return `${p.tsMs}-${p.sensorId}`
}

export function decodePosition(text: string): StreamPosition | undefined {
  const match = POSITION_RE.exec(text)
  return match === null ? undefined : { tsMs: Number(match[1]), sensorId: match[2] as string }
}

export function positionOf(r: Reading): StreamPosition {
  return { tsMs: Math.round(r.timestamp * 1000), sensorId: r.sensor_id }
}

export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  if (a.tsMs !== b.tsMs) return a.tsMs - b.tsMs
  return a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0
}

/** The identity of a reading, (sensor_id, timestamp), as one string. */
export function readingKey(r: Reading): string {
  return `${Math.round(r.timestamp * 1000)} ${r.sensor_id}`
}

/** What a reading looks like on the wire, serialized once however many clients receive it. */
const wire = new WeakMap<Reading, string>()
export function readingJson(r: Reading): string {
  let json = wire.get(r)
  if (json === undefined) {
    json = encodeReading(r)
    wire.set(r, json)
  }
  return json
}
