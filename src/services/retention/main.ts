// `sensorstream retention [--dry-run]`: lists the partitions past RETENTION_*_DAYS with their size
// on disk, and drops them unless --dry-run (the services also do it in the background).
import { requireServices } from '../../platform/config.ts'
import type { ExpiredPartition } from '../../ports/store.ts'
import { openPostgres } from '../../wiring.ts'
import type { ServiceMain } from '../service.ts'

const say = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

export function describePartitions(partitions: readonly ExpiredPartition[]): string[] {
  const lines = partitions.map((p) => `  ${p.table.padEnd(11)}  ${p.name.padEnd(28)}  ${iso(p.from)} – ${iso(p.to)}  ${mib(p.bytes).padStart(11)}`)
  lines.push(`  ${partitions.length} partition${partitions.length === 1 ? '' : 's'}, ${mib(partitions.reduce((n, p) => n + p.bytes, 0))}`)
  return lines
}

export const main: ServiceMain = async ({ config, logger, dryRun }) => {
  requireServices(config, 'retention', ['database'])
  const { retentionRawDays: raw, retention1mDays: minute, retention1hDays: hour, retention1dDays: day } = config.storage
  const days = (d: number | undefined): string => (d === undefined ? 'forever' : `${d} days`)
  say(`retention: raw readings ${days(raw)}, 1-minute rollups ${days(minute)}, 1-hour rollups ${days(hour)}, 1-day rollups ${days(day)}`)
  const postgres = openPostgres(config, { role: 'command', logger: logger.child({ component: 'store' }) })
  try {
    await postgres.migrations.migrate()
    const { maintenance } = postgres
    if (dryRun === true) {
      const expired = await maintenance.expiredPartitions()
      say(expired.length === 0 ? 'nothing would be dropped' : 'would drop (--dry-run):')
      if (expired.length > 0) for (const line of describePartitions(expired)) say(line)
      return
    }
    const dropped = await maintenance.dropExpiredPartitions()
    if (dropped === undefined) say('another instance is applying retention right now; nothing done')
    else if (dropped.length === 0) say('nothing to drop')
    else for (const line of ['dropped:', ...describePartitions(dropped)]) say(line)
  } finally {
    await postgres.close()
  }
}
