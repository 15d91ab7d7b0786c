// Resource use of a child process from /proc (Linux): peak resident memory and CPU time.
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100

/** VmHWM: the highest resident set size the process ever had, in MiB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status)
  if (match === null) throw new Error(`no VmHWM in /proc/${pid}/status`)
  return Number(match[1]) / 1024
}

/** User + system CPU seconds the process used so far (its own threads; not waited-for children). */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid)
  // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S
}

export function processorCount(): number {
  return readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('processor')).length
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

/**
 * CPU seconds of a server and its children: its own, its live children's (Postgres backends) and
 * those of children it has waited for (backends that have exited), read from /proc.
 */
export function treeCpuSeconds(pid: number): number {
  const own = statFields(pid)
  let total = (Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])) / TICKS_PER_S
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pid) continue
    try {
      const fields = statFields(Number(entry))
      if (Number(fields[1]) === pid) total += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S
    } catch {
      // the process exited while we looked
    }
  }
  return total
}

/** /proc/<pid>/stat from field 3 (state) on: field n is index n - 3. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}
