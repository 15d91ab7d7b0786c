// What the local launchers need from the machine: the executable search path, the user's cache
// folder and executables found on them. These are developer tools, not service configuration, so
// they read the two variables here instead of through src/platform/config.ts.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'

// eslint-disable-next-line no-restricted-properties -- PATH and XDG_CACHE_HOME, not service config
const env = process.env

/** `${XDG_CACHE_HOME or ~/.cache}/sensorstream` */
export function userCacheDir(): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache')
  return join(base, 'sensorstream')
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first `name` on PATH (then in `extraDirs`) that is executable, or undefined. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...extraDirs]
  for (const dir of dirs) {
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

/** Like findExecutable, but a missing binary is an Error that says how to install it. */
export function requireExecutable(name: string, installHint: string, extraDirs: readonly string[] = []): string {
  const found = findExecutable(name, extraDirs)
  if (found === undefined) throw new Error(`\`${name}\` is not installed (not on PATH). Install it with: ${installHint}`)
  return found
}

/** Directories listed in `dir`, newest version first (`/usr/lib/postgresql/16`, `…/15`, …). */
export function versionedDirs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => /^\d+(\.\d+)*$/.test(name))
      .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))
      .map((name) => join(dir, name))
  } catch {
    return []
  }
}

export interface OsUser {
  readonly uid: number
  readonly gid: number
}

/** uid and gid of a local user from /etc/passwd, or undefined. */
export function osUser(name: string): OsUser | undefined {
  let passwd: string
  try {
    passwd = readFileSync('/etc/passwd', 'utf8')
  } catch {
    return undefined
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':')
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) }
  }
  return undefined
}

export function isRoot(): boolean {
  return process.getuid?.() === 0
}
