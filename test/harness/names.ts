// Unique names for topics, databases and Redis key prefixes, so tests never see each other's data.
import { randomBytes } from 'node:crypto'

let counter = 0

/**
 * `<prefix>_<pid>_<n>_<random>`: lowercase letters, digits and `_` only, at most 63 characters, so
 * it is valid as a Kafka topic, a PostgreSQL database (unquoted) and a Redis key prefix.
 */
export function uniqueName(prefix = 'test'): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40)
  const suffix = `${process.pid.toString(36)}_${(++counter).toString(36)}_${randomBytes(3).toString('hex')}`
  return `${clean}_${suffix}`.slice(0, 63)
}
