// Every second the streaming service posts its figures to the status board (Redis), where the API's
// GET /status reads them: stored per second, totals, consumer lag (asked of the bus every 5 s).
import { hostname } from 'node:os'
import type { Logger } from '../../platform/logger.ts'
import type { PipelineStatusBoard } from '../../ports/pipeline-status.ts'
import type { StreamingMetrics } from './metrics.ts'

export const REPORT_EVERY_MS = 1000
const LAG_EVERY_MS = 5000

export function startStatusReports(board: PipelineStatusBoard, metrics: StreamingMetrics, lag: () => Promise<number>, logger: Logger): () => void {
  const instance = `${hostname()}:${process.pid}:${process.hrtime.bigint() % 100_000n}`
  const total = async (c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> => (await c.get()).values[0]?.value ?? 0
  let last = { at: Date.now(), stored: 0 }
  let consumerLag: number | undefined
  let bus = 'ok'
  let lagAt = 0
  let failing = false
  const tick = async (): Promise<void> => {
    const now = Date.now()
    if (now - lagAt >= LAG_EVERY_MS) {
      lagAt = now
      lag().then(
        (n) => {
          consumerLag = n
          bus = 'ok'
        },
        (err: Error) => {
          consumerLag = -1
          bus = err.message
        }
      )
    }
    const [stored, deadLettered] = await Promise.all([total(metrics.stored), total(metrics.deadLettered)])
    const seconds = Math.max((now - last.at) / 1000, 0.001)
    const storedPerSecond = Math.max(0, (stored - last.stored) / seconds)
    last = { at: now, stored }
    await board.report({
      instance,
      at: now,
      storedPerSecond,
      storedTotal: stored,
      deadLetteredTotal: deadLettered,
      ...(consumerLag === undefined ? {} : { consumerLag }),
      bus
    })
  }
  const timer = setInterval(() => {
    tick().then(
      () => {
        failing = false
      },
      (err: unknown) => {
        if (!failing) logger.warn({ err }, 'could not post the status report')
        failing = true
      }
    )
  }, REPORT_EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}
