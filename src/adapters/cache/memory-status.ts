// In-process PipelineStatusBoard for `sensorstream all` without Redis.
import type { PipelineStatusBoard, StreamingReport } from '../../ports/pipeline-status.ts'

export class MemoryStatusBoard implements PipelineStatusBoard {
  private readonly reports = new Map<string, StreamingReport>()

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  async report(report: StreamingReport): Promise<void> {
    this.reports.set(report.instance, { ...report })
  }

  async recent(maxAgeMs: number): Promise<StreamingReport[]> {
    const since = Date.now() - maxAgeMs
    return [...this.reports.values()].filter((r) => r.at >= since)
  }
}
