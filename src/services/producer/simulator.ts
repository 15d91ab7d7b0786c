// Simulated sensors: each value follows its own bounded random walk, and each sensor's timestamps
// strictly increase (by at least a millisecond), so no two readings of a sensor share an identity.
import type { Reading } from '../../domain/reading.ts'

interface SensorState {
  value: number
  lastMs: number
}

export class SensorSimulator {
  private readonly sensors: readonly string[]
  private readonly state = new Map<string, SensorState>()
  private next = 0
  private readonly random: () => number

  constructor(sensors: readonly string[], random: () => number = Math.random) {
    if (sensors.length === 0) throw new Error('at least one sensor is needed')
    this.sensors = sensors
    this.random = random
  }

  /** The next `count` readings, round-robin over the sensors. */
  take(count: number, nowMs = Date.now()): Reading[] {
    const readings = new Array<Reading>(count)
    for (let i = 0; i < count; i++) {
      const sensorId = this.sensors[this.next] as string
      this.next = (this.next + 1) % this.sensors.length
      readings[i] = this.read(sensorId, nowMs)
    }
    return readings
  }

  private read(sensorId: string, nowMs: number): Reading {
    let s = this.state.get(sensorId)
    if (s === undefined) {
      s = { value: 15 + this.random() * 15, lastMs: 0 }
      this.state.set(sensorId, s)
    }
    // A step of at most ±0.5, pulled gently back towards 20 so the walk stays plausible.
    s.value += this.random() - 0.5 + (20 - s.value) * 0.01
    s.lastMs = Math.max(nowMs, s.lastMs + 1)
    return { sensor_id: sensorId, value: Math.round(s.value * 1000) / 1000, timestamp: s.lastMs / 1000 }
  }
}
