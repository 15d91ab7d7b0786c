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
}

export type ServiceMain = (context: ServiceContext) => Promise<void>
