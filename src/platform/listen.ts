// Listening on a port that a variable chose: a port in use or not allowed is a configuration
// error naming the variable (one plain line, exit 2), not a crash with a stack.
import { createServer } from 'node:net'
import { AppError } from './errors.ts'

export interface ListenTarget {
  /** the variable that chose the port, e.g. PORT or METRICS_PORT */
  readonly variable: string
  readonly host: string
  readonly port: number
  /** the variable that chose the host, when one did (HOST) */
  readonly hostVariable?: string
}

/** The CONFIG_INVALID error that says why `target` cannot be listened on, or `err` itself. */
export function listenError(target: ListenTarget, err: unknown): unknown {
  const { variable, host, port, hostVariable } = target
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const code = (err as NodeJS.ErrnoException | null)?.code
  const problem =
    code === 'EADDRINUSE'
      ? `${variable}: ${where} is already in use; choose another ${variable}`
      : code === 'EACCES'
        ? `${variable}: not allowed to listen on ${where} (ports below 1024 need privileges); choose another ${variable}`
        : code === 'EADDRNOTAVAIL' && hostVariable !== undefined
          ? `${hostVariable}: ${host} is not an address of this machine`
          : (code === 'ENOTFOUND' || code === 'EAI_AGAIN') && hostVariable !== undefined
            ? `${hostVariable}: "${host}" does not resolve to an address`
            : undefined
  if (problem === undefined) return err
  return new AppError('CONFIG_INVALID', `invalid configuration:\n  ${problem}`, { cause: err, details: [problem] })
}

/** Runs `listen` (which binds `target`), turning a port in use into a configuration error. */
export async function listening<T>(target: ListenTarget, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen()
  } catch (err) {
    throw listenError(target, err)
  }
}

/**
 * Binds `target` and lets it go at once: a service checks its port before it waits for Postgres or
 * Kafka, so a port in use is said at start and not minutes later. Port 0 (any free port) passes.
 */
export async function checkPortFree(target: ListenTarget): Promise<void> {
  if (target.port === 0) return
  const server = createServer()
  await listening(
    target,
    () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: target.host, port: target.port, exclusive: true }, () => resolve())
      })
  )
  await new Promise<void>((resolve) => server.close(() => resolve()))
}
