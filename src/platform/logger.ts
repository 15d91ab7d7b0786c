// Structured logs (pino), quiet by default: one child logger per component.
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger(level: string, name = 'sensorstream'): Logger {
  return pino({ name, level, base: { pid: process.pid } })
}
