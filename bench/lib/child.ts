// The real command-line program as a child process, the way it runs in production: the build
// (`node dist/cli.js <command>`, as the Docker image runs it; bench/run.ts builds it first).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { appendFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))
/** Output kept per child (the tail), enough for the last log lines and any error. */
const KEEP_CHARS = 64 * 1024

export interface Cli {
  readonly child: ChildProcess
  readonly pid: number
  /** the tail of what it printed (stdout and stderr) */
  output(): string
  /** resolves with the first printed JSON log line whose `msg` is `msg` */
  logged(msg: string): Promise<Record<string, unknown>>
  exited(): Promise<number | null>
  /** SIGTERM, SIGKILL after `withinMs`; the exit code */
  stop(withinMs?: number): Promise<number | null>
}

/** `cli`: another checkout's CLI, to compare versions in one run (`--variants`). */
export function startCli(command: string, env: Record<string, string>, cli = CLI): Cli {
  const child = spawn(process.execPath, [cli, command], {
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      // for profiling a child: BENCH_CHILD_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof'
      // (and BENCH_CHILD_LOG=/tmp/children.log keeps everything the children print)
      ...(process.env.BENCH_CHILD_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.BENCH_CHILD_NODE_OPTIONS }),
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  if (child.pid === undefined) throw new Error(`could not start sensorstream ${command}`)
  let output = ''
  let partial = ''
  const waiters = new Map<string, (line: Record<string, unknown>) => void>()
  const onData = (d: Buffer): void => {
    const text = d.toString()
    if (process.env.BENCH_CHILD_LOG !== undefined) appendFileSync(process.env.BENCH_CHILD_LOG, text)
    output = (output + text).slice(-KEEP_CHARS)
    if (waiters.size === 0) return
    partial += text
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (!line.startsWith('{')) continue
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>
        const waiter = waiters.get(String(parsed.msg))
        if (waiter !== undefined) {
          waiters.delete(String(parsed.msg))
          waiter(parsed)
        }
      } catch {
        // not a log line
      }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    pid: child.pid,
    output: () => output,
    logged: (msg) =>
      new Promise((resolve, reject) => {
        waiters.set(msg, resolve)
        void exit.then((code) => reject(new Error(`sensorstream ${command} exited (${code}) before logging "${msg}":\n${output.slice(-3000)}`)))
      }),
    exited: () => exit,
    stop: async (withinMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), withinMs)
      const code = await exit
      clearTimeout(timer)
      return code
    }
  }
}
