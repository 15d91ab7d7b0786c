// A small board where each streaming instance posts its figures every second, so that the API (in
// another process) can show the pipeline's state without scraping Prometheus text.
import type { Lifecycle } from './lifecycle.ts'

export interface StreamingReport {
  /** which instance (host:pid) */
  readonly instance: string
  /** when it was made, unix milliseconds */
  readonly at: number
  /** readings newly stored per second over the last interval */
  readonly storedPerSecond: number
  readonly storedTotal: number
  readonly deadLetteredTotal: number
  /** records of the topic the group has not committed; -1: the bus did not answer; undefined: not asked yet */
  readonly consumerLag?: number
  /** 'ok', or what went wrong reaching the bus */
  readonly bus: string
}

export interface PipelineStatusBoard extends Lifecycle {
  report(report: StreamingReport): Promise<void>
  /** the reports made within the last `maxAgeMs`, one per instance */
  recent(maxAgeMs: number): Promise<StreamingReport[]>
}
