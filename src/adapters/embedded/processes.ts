// Child processes of the local launchers. Services run in the foreground as children of this
// process, with their output in a log file. Unless detached, a child never outlives this process:
// it is killed on exit, and (through `setpriv --pdeathsig`) by the kernel when this process dies.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { isAlive } from '../../platform/pid.ts'
import { findExecutable, type OsUser } from './environment.ts'

export { isAlive }

export interface SpawnOptions {
  readonly logFile: string
  readonly cwd?: string
  /** run as this user (needs root) */
  readonly user?: OsUser
  /** outlive this process: no exit hook, no parent-death signal, own process group */
  readonly detached?: boolean
  /**
   * its own process group but still ending with this process: a terminal's Ctrl-C (sent to the
   * foreground group) reaches only this process, which then stops the child in its own order
   */
  readonly ownProcessGroup?: boolean
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ServiceProcess {
  readonly pid: number
  /** resolves when the process has exited; never rejects */
  readonly exited: Promise<ExitInfo>
  hasExited(): boolean
  signal(sig: NodeJS.Signals): void
}

const tracked = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of tracked) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
}

/** Starts `command` with stdout and stderr appended to `logFile`; resolves once it is running. */
export async function spawnService(command: string, args: readonly string[], options: SpawnOptions): Promise<ServiceProcess> {
  const detached = options.detached === true
  const setpriv = detached ? undefined : findExecutable('setpriv')
  const [file, argv] = setpriv === undefined ? [command, args] : [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]]
  const log = openSync(options.logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(file, argv, {
      cwd: options.cwd,
      stdio: ['ignore', log, log],
      // Node's `detached` is setsid(): a new session and process group.
      detached: detached || options.ownProcessGroup === true,
      ...(options.user === undefined ? {} : { uid: options.user.uid, gid: options.user.gid })
    })
  } finally {
    closeSync(log)
  }
  let done = false
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true
      tracked.delete(child)
      resolve({ code, signal })
    })
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', (err) => {
      done = true
      reject(new Error(`cannot start ${command}: ${err.message}`, { cause: err }))
    })
  })
  if (detached) child.unref()
  else {
    installExitHook()
    tracked.add(child)
  }
  const pid = child.pid ?? 0
  return {
    pid,
    exited,
    hasExited: () => done,
    signal: (sig) => {
      if (!done) child.kill(sig)
    }
  }
}

/** Sends `sig`, waits up to `graceMs`, then SIGKILL; resolves once the process has exited. */
export async function terminate(proc: ServiceProcess, sig: NodeJS.Signals, graceMs: number): Promise<void> {
  if (proc.hasExited()) return
  proc.signal(sig)
  const timer = delay(graceMs, 'timeout' as const, { ref: false })
  if ((await Promise.race([proc.exited, timer])) === 'timeout') proc.signal('SIGKILL')
  await proc.exited
}

/** How long a service may take to stop cleanly before it is killed. */
export const STOP_GRACE_MS = 15_000

/** What every launcher hands out to stop, crash and restart its service (same ports, same data). */
export interface ServiceControl {
  /** the server's pid while it runs */
  readonly pid: number | undefined
  /** a clean stop; the data stays for start() */
  stop(): Promise<void>
  /** SIGKILL, like a crash; resolves once it is gone */
  kill(): Promise<void>
  /** starts it again when it is not running */
  start(): Promise<void>
  /** stop() and remove what was throwaway */
  dispose(): Promise<void>
}

export interface ServiceControlOptions {
  /** the running process of the first launch */
  readonly first: ServiceProcess
  /** starts the service again and resolves with its process once it is ready */
  readonly launch: () => Promise<ServiceProcess>
  /** a clean stop of `proc` [SIGTERM, SIGKILL after STOP_GRACE_MS] */
  readonly stop?: (proc: ServiceProcess) => Promise<void>
  /** run by dispose() after the stop, e.g. to remove a throwaway folder */
  readonly cleanup?: () => void
}

export function serviceControl(options: ServiceControlOptions): ServiceControl {
  let proc = options.first
  const stopProcess = options.stop ?? ((p: ServiceProcess) => terminate(p, 'SIGTERM', STOP_GRACE_MS))
  const stop = async (): Promise<void> => {
    if (!proc.hasExited()) await stopProcess(proc)
  }
  return {
    get pid() {
      return proc.hasExited() ? undefined : proc.pid
    },
    stop,
    kill: () => terminate(proc, 'SIGKILL', 0),
    start: async () => {
      if (proc.hasExited()) proc = await options.launch()
    },
    dispose: async () => {
      await stop()
      options.cleanup?.()
    }
  }
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export interface WaitOptions {
  readonly what: string
  readonly timeoutMs: number
  readonly proc?: ServiceProcess
  readonly logFile?: string
  readonly intervalMs?: number
}

/** Polls `ready` until it returns true; fails when the process exits first or time runs out. */
export async function waitUntil(ready: () => Promise<boolean> | boolean, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  const tail = (): string => (options.logFile === undefined ? '' : `; log ${options.logFile}:\n${logTail(options.logFile)}`)
  for (;;) {
    if (await ready()) return
    if (options.proc?.hasExited() === true) {
      const info = await options.proc.exited
      throw new Error(`${options.what} exited (${info.signal ?? `code ${info.code}`}) before it was ready${tail()}`)
    }
    if (Date.now() > deadline) throw new Error(`${options.what} was not ready within ${options.timeoutMs} ms${tail()}`)
    await delay(options.intervalMs ?? 50)
  }
}

/** True when a process with this pid exists. */

/** Signals a process that is not our child and waits for it to go (SIGKILL after `graceMs`). */
export async function stopPid(pid: number, sig: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!isAlive(pid)) return
  process.kill(pid, sig)
  const deadline = Date.now() + graceMs
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL')
      while (isAlive(pid)) await delay(50)
      return
    }
    await delay(100)
  }
}

const TEMP_PREFIX = 'sensorstream-'

/**
 * A throwaway folder `$TMPDIR/sensorstream-<kind>-<pid>-XXXXXX`, removed when this process exits.
 * Leftovers of processes that died without cleaning up are removed on the way.
 */
export function makeTempDir(kind: string): string {
  sweepStaleTempDirs()
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${kind}-${process.pid}-`))
  installExitHook()
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

let swept = false
function sweepStaleTempDirs(): void {
  if (swept) return
  swept = true
  let names: string[]
  try {
    names = readdirSync(tmpdir())
  } catch {
    return
  }
  for (const name of names) {
    const match = /^sensorstream-[a-z]+-(\d+)-/.exec(name)
    if (match?.[1] === undefined) continue
    const pid = Number(match[1])
    if (pid !== process.pid && !isAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
}
