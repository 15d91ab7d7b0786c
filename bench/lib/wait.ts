// Polling with a deadline, and a child that dies meanwhile ends the wait at once.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cli } from './child.ts'

export async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; everyMs?: number; child?: Cli }
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    if (await probe()) return
    const child = options.child?.child
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode}):\n${options.child?.output().slice(-3000)}`)
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`)
    await sleep(options.everyMs ?? 50)
  }
}

export { sleep }
