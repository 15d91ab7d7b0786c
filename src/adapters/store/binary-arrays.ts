// A batch of readings as three Postgres arrays in the binary wire format (array_send/array_recv),
// sent as Buffer parameters, which node-postgres binds in binary. Against text array literals this
// spares the service building and UTF-8-encoding three long strings, and Postgres parsing every
// element as text (float8in, int8in) and turning milliseconds into a timestamp row by row.
import type { Reading } from '../../domain/reading.ts'

const TEXT_OID = 25
const FLOAT8_OID = 701
const TIMESTAMPTZ_OID = 1184
/** one dimension, no nulls: ndim, flags, element type, length, lower bound */
const HEADER_BYTES = 20
/** Postgres timestamps count microseconds from 2000-01-01T00:00:00Z */
const POSTGRES_EPOCH_MS = 946_684_800_000
const TWO_POW_32 = 4_294_967_296

/** The first three parameters of INSERT_SQL (writeParams in postgres.ts): text[] of sensor ids, float8[] of values, timestamptz[] of timestamps (exact to the millisecond). */
export type BinaryColumns = [ids: Buffer, values: Buffer, timestamps: Buffer]

export function binaryColumns(readings: readonly Reading[]): BinaryColumns {
  const n = readings.length
  let idBytes = 0
  for (let i = 0; i < n; i++) idBytes += Buffer.byteLength((readings[i] as Reading).sensor_id, 'utf8')
  const ids = header(HEADER_BYTES + 4 * n + idBytes, TEXT_OID, n)
  const values = header(HEADER_BYTES + 12 * n, FLOAT8_OID, n)
  const timestamps = header(HEADER_BYTES + 12 * n, TIMESTAMPTZ_OID, n)
  let at = HEADER_BYTES
  let fixed = HEADER_BYTES
  for (let i = 0; i < n; i++) {
    const r = readings[i] as Reading
    const length = ids.write(r.sensor_id, at + 4, 'utf8')
    ids.writeInt32BE(length, at)
    at += 4 + length
    values.writeInt32BE(8, fixed)
    values.writeDoubleBE(r.value, fixed + 4)
    // Whole microseconds below 2^53: exact as a double, written as two 32-bit halves (no BigInt).
    const micros = (Math.round(r.timestamp * 1000) - POSTGRES_EPOCH_MS) * 1000
    const high = Math.floor(micros / TWO_POW_32)
    timestamps.writeInt32BE(8, fixed)
    timestamps.writeInt32BE(high, fixed + 4)
    timestamps.writeUInt32BE(micros - high * TWO_POW_32, fixed + 8)
    fixed += 12
  }
  return [ids, values, timestamps]
}

function header(bytes: number, elementOid: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(bytes)
  buffer.writeInt32BE(1, 0)
  buffer.writeInt32BE(0, 4)
  buffer.writeInt32BE(elementOid, 8)
  buffer.writeInt32BE(length, 12)
  buffer.writeInt32BE(1, 16)
  return buffer
}
