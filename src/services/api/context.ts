// What every route plugin receives from buildApp.
import type { Registry } from 'prom-client'
import type { Config } from '../../platform/config.ts'
import type { Logger } from '../../platform/logger.ts'
import type { ApiMetrics } from '../../platform/metrics.ts'
import type { GuardedDeps } from './deps.ts'

export interface RouteContext {
  readonly deps: GuardedDeps
  readonly metrics: ApiMetrics
  readonly registry: Registry
  readonly config: Config['api']
  readonly logger: Logger
}
