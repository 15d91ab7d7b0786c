// What every deployable service exports from its main.ts: run until `signal` aborts, then stop
// cleanly (stop taking work, flush, commit, close connections in reverse order) and resolve.
import type { Config } from '../platform/config.ts'
import type { Logger } from '../platform/logger.ts'

export interface ServiceContext {
  readonly config: Config
  readonly logger: Logger
  readonly signal: AbortSignal
  /** `--dry-run` on the command line (only `retention` reads it) */
  readonly dryRun?: boolean
  /** the command line after the command's name, for commands that take arguments (replay, dlq) */
  readonly args?: readonly string[]
}

export type ServiceMain = (context: ServiceContext) => Promise<void>
