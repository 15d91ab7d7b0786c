// One `sensorstream all` per DATA_DIR: a lock file holding the owner's pid. A lock left by a process
// that is gone (killed, crashed) is taken over; a live owner makes the second start fail clearly.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isAlive as alive } from '../../platform/pid.ts'
import { AppError } from '../../platform/errors.ts'

export const LOCK_FILE = 'sensorstream.pid'

export interface DataDirLock {
  readonly file: string
  /** removes the lock file if it is still ours; never throws */
  release(): void
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Takes the lock of `dataDir` (created if missing) or throws an AppError naming the running pid. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, LOCK_FILE)
  for (let attempt = 0; ; attempt++) {
    try {
      // `wx`: created only if absent, so two starts racing cannot both win.
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = ownerOf(file)
    if (owner !== undefined && owner !== process.pid && alive(owner)) {
      throw new AppError(
        'CONFLICT',
        `sensorstream is already running with data in ${dataDir} (pid ${owner}). Stop it first (Ctrl-C in its terminal, or kill ${owner}), ` +
          'or give this one another DATA_DIR and PORT.',
        { details: { pid: owner, lockFile: file } }
      )
    }
    if (owner === undefined && attempt === 0) {
      // Being written this very moment by another start: give it a moment to finish.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
      if (ownerOf(file) !== undefined) continue
    }
    if (attempt >= 3) throw new AppError('CONFLICT', `cannot take the lock file ${file}`)
    // Stale: its owner is gone. Remove it and try again (still with `wx`, so only one start wins).
    rmSync(file, { force: true })
  }
  return {
    file,
    release: () => {
      if (ownerOf(file) === process.pid) rmSync(file, { force: true })
    }
  }
}
