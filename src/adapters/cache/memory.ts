// In-process LatestValues: the embedded default of `sensorstream all`, held to the same contract
// suite as the Redis adapter.
import { newestPerSensor, type Reading } from '../../domain/reading.ts'
import type { LatestValues, RebuildToken } from '../../ports/latest.ts'

export class MemoryLatestValues implements LatestValues {
  private readonly latest = new Map<string, Reading>()
  /** nothing empties it but the end of the process, which starts a new one: incomplete until rebuilt */
  private complete = false

  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async ping(): Promise<void> {}

  async update(readings: readonly Reading[]): Promise<void> {
    for (const r of newestPerSensor(readings)) {
      const current = this.latest.get(r.sensor_id)
      if (current === undefined || current.timestamp < r.timestamp) this.latest.set(r.sensor_id, { ...r })
    }
  }

  async get(sensorId: string): Promise<Reading | undefined> {
    const r = this.latest.get(sensorId)
    return r === undefined ? undefined : { ...r }
  }

  async all(): Promise<Reading[]> {
    return [...this.latest.values()].map((r) => ({ ...r }))
  }

  async sensors(): Promise<string[]> {
    return [...this.latest.keys()]
  }

  async isComplete(): Promise<boolean> {
    return this.complete
  }

  async startRebuild(): Promise<RebuildToken> {
    return 'rebuilding'
  }

  async finishRebuild(_token: RebuildToken): Promise<boolean> {
    this.complete = true
    return true
  }
}
