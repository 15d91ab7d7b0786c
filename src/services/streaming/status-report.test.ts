import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryStatusBoard } from '../../adapters/cache/memory-status.ts'
import { createLogger } from '../../platform/logger.ts'
import { createMetricsRegistry } from '../../platform/metrics.ts'
import { StreamingMetrics } from './metrics.ts'
import { startStatusReports } from './status-report.ts'

test('the streaming service posts stored/s, totals and lag to the status board every second', async () => {
  const board = new MemoryStatusBoard()
  const metrics = new StreamingMetrics(createMetricsRegistry('t'))
  const stop = startStatusReports(board, metrics, async () => 42, createLogger('silent'))
  try {
    metrics.stored.inc(500)
    metrics.deadLettered.inc(3)
    await new Promise((r) => setTimeout(r, 1200))
    const [report] = await board.recent(5000)
    assert.ok(report !== undefined)
    assert.equal(report.storedTotal, 500)
    assert.equal(report.deadLetteredTotal, 3)
    assert.equal(report.consumerLag, 42)
    assert.equal(report.bus, 'ok')
    assert.ok(report.storedPerSecond > 300 && report.storedPerSecond <= 500, String(report.storedPerSecond))
  } finally {
    stop()
  }
})
