// Structured logs (pino), quiet by default: one child logger per component.
import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * `{ err }` is logged with its cause as a nested object: pino's default serializer appends each
 * cause's message to the error's own, which repeats it (an AppError's message already says why).
 */
export function createLogger(level: string, name = 'sensorstream', destination?: DestinationStream): Logger {
  const options = { name, level, base: { pid: process.pid }, serializers: { err: pino.stdSerializers.errWithCause } }
  return destination === undefined ? pino(options) : pino(options, destination)
}
