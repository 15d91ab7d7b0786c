// Which sensors a live client wants: exact ids and globs. A glob is a sensor id in which `*` stands
// for any run of characters (also none) and `?` for exactly one; nothing else is special, so
// `line-4.*` matches `line-4.a` and `line-4.temp.1` but not `line-40`. Sensor ids never contain
// `*` or `?`, so a pattern without them is an exact id.

/** a sensor id, or a glob of one (same characters plus `*` and `?`) */
export const SENSOR_PATTERN_PATTERN = '^[A-Za-z0-9._:*?-]{1,128}$'
const SENSOR_PATTERN_RE = new RegExp(SENSOR_PATTERN_PATTERN)

export function isSensorPattern(text: string): boolean {
  return SENSOR_PATTERN_RE.test(text)
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?')
}

export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.*?+^${}()|[\]\\-]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`))
  return new RegExp(`^${body}$`)
}

/** The same glob as a SQL LIKE pattern with `\` as the escape character. */
export function globToLike(glob: string): string {
  return glob.replace(/[\\%_*?]/g, (c) => (c === '*' ? '%' : c === '?' ? '_' : `\\${c}`))
}

/** A set of exact ids and globs; empty matches no sensor, `*` every one. */
export class SensorFilter {
  private readonly ids = new Set<string>()
  private readonly globs = new Map<string, RegExp>()

  constructor(patterns: Iterable<string> = []) {
    this.add(patterns)
  }

  add(patterns: Iterable<string>): void {
    for (const p of patterns) {
      if (isGlob(p)) this.globs.set(p, globToRegExp(p))
      else this.ids.add(p)
    }
  }

  remove(patterns: Iterable<string>): void {
    for (const p of patterns) {
      this.ids.delete(p)
      this.globs.delete(p)
    }
  }

  get empty(): boolean {
    return this.ids.size === 0 && this.globs.size === 0
  }

  get patterns(): string[] {
    return [...this.ids, ...this.globs.keys()]
  }

  matches(sensorId: string): boolean {
    if (this.ids.has(sensorId)) return true
    for (const re of this.globs.values()) if (re.test(sensorId)) return true
    return false
  }
}
