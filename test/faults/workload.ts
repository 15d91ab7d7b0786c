// A workload the fault suite knows exactly, from a printed seed: readings over many sensors with
// out-of-order and late ones, plus replays (the same (sensor_id, ts) again, some with another value:
// the first value must win). `expected` is what Postgres must hold at the end, `newest` what Redis must.

export interface Message {
  readonly key: string
  readonly value: string
}

export interface WorkloadOptions {
  readonly seed: number
  readonly readings: number
  readonly sensors: number
  /** share of readings sent again later with another value [0.02] */
  readonly replayShare?: number
  /** share of readings days older than the rest (late data into old buckets and partitions) [0.01] */
  readonly lateShare?: number
  /** sensors `early-N` that report only at the very start (their latest must survive a cache loss) [0] */
  readonly earlySensors?: number
  /** invalid messages mixed in at random places, each with the key `poison-N` [none] */
  readonly poison?: readonly string[]
}

/** mulberry32: small, fast, seeded. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Workload {
  readonly seed: number
  readonly random: () => number
  /** `${sensor}\0${ms}` → the first value sent */
  readonly expected = new Map<string, number>()
  /** sensor → its newest reading */
  readonly newest = new Map<string, { ms: number; value: number }>()
  readonly #messages: Message[] = []
  readonly replaysSent: number
  readonly poisonSent: number
  #acknowledged = 0
  #finished = false

  constructor(options: WorkloadOptions) {
    this.seed = options.seed
    this.random = seeded(options.seed)
    const rnd = this.random
    const base = (Math.floor(Date.now() / 1000) - 2 * 3600) * 1000
    const counters = new Array<number>(options.sensors).fill(0)
    const originals: Message[] = []
    for (let i = 0; i < options.readings; i++) {
      const s = Math.floor(rnd() * options.sensors)
      const sensor = `f-${s + 1}`
      const k = (counters[s] = (counters[s] as number) + 1)
      const late = rnd() < (options.lateShare ?? 0.01)
      // unique per sensor: late ones sit 3 days back, on their own millisecond grid
      const ms = late ? base - 3 * 86_400_000 + k * 7 : base + k * 1000 + (s % 997)
      const value = Math.round((rnd() * 200 - 100) * 1000) / 1000
      const key = `${sensor}\u0000${ms}`
      this.expected.set(key, value)
      const newest = this.newest.get(sensor)
      if (newest === undefined || newest.ms < ms) this.newest.set(sensor, { ms, value })
      originals.push({ key: sensor, value: JSON.stringify({ sensor_id: sensor, value, timestamp: ms / 1000 }) })
    }
    const early: Message[] = []
    for (let e = 1; e <= (options.earlySensors ?? 0); e++) {
      const sensor = `early-${e}`
      for (let k = 1; k <= 3; k++) {
        const ms = base - 60_000 + k * 1000 + e
        const value = Math.round((rnd() * 200 - 100) * 1000) / 1000
        this.expected.set(`${sensor}\u0000${ms}`, value)
        this.newest.set(sensor, { ms, value })
        early.push({ key: sensor, value: JSON.stringify({ sensor_id: sensor, value, timestamp: ms / 1000 }) })
      }
    }
    originals.unshift(...early)
    // out of order: shuffle within windows of 64
    for (let start = 0; start < originals.length; start += 64) {
      const end = Math.min(originals.length, start + 64)
      for (let i = end - 1; i > start; i--) {
        const j = start + Math.floor(rnd() * (i - start + 1))
        ;[originals[i], originals[j]] = [originals[j] as Message, originals[i] as Message]
      }
    }
    // replays go at least 2,000 messages after their original, so they are sent after it was acknowledged
    const replays: { at: number; message: Message }[] = []
    for (const [i, m] of originals.entries()) {
      if (rnd() >= (options.replayShare ?? 0.02)) continue
      const reading = JSON.parse(m.value) as { sensor_id: string; value: number; timestamp: number }
      const changed = rnd() < 0.5 ? reading : { ...reading, value: reading.value + 1000 }
      replays.push({ at: i + 2_000 + Math.floor(rnd() * 5_000), message: { key: m.key, value: JSON.stringify(changed) } })
    }
    replays.sort((a, b) => a.at - b.at)
    let r = 0
    for (const [i, m] of originals.entries()) {
      this.#messages.push(m)
      while (r < replays.length && (replays[r] as { at: number }).at <= i) this.#messages.push((replays[r++] as { message: Message }).message)
    }
    while (r < replays.length) this.#messages.push((replays[r++] as { message: Message }).message)
    this.replaysSent = replays.length
    for (const [i, value] of (options.poison ?? []).entries()) {
      const at = Math.floor(rnd() * this.#messages.length)
      this.#messages.splice(at, 0, { key: `poison-${i}`, value })
    }
    this.poisonSent = options.poison?.length ?? 0
  }

  /** readings with distinct (sensor_id, ts) */
  get distinct(): number {
    return this.expected.size
  }

  /** every message, replays included */
  get sent(): number {
    return this.#messages.length
  }

  get finished(): boolean {
    return this.#finished
  }

  get acknowledgedCount(): number {
    return this.#acknowledged
  }

  /** The messages in order, at most `size` and about `maxBytes` a chunk (one Kafka request stays under the broker's limit). */
  *chunks(size: number, maxBytes = 900_000): Generator<readonly Message[]> {
    let chunk: Message[] = []
    let bytes = 0
    for (const m of this.#messages) {
      const length = m.key.length + m.value.length
      if (chunk.length > 0 && (chunk.length >= size || bytes + length > maxBytes)) {
        yield chunk
        chunk = []
        bytes = 0
      }
      chunk.push(m)
      bytes += length
    }
    if (chunk.length > 0) yield chunk
  }

  acknowledged(n: number): void {
    this.#acknowledged += n
  }

  finish(): void {
    this.#finished = true
  }
}

/** The seed of this run: FAULTS_SEED when set (to replay a run), else random; printed by every scenario. */
export function runSeed(): number {
  const given = process.env.FAULTS_SEED
  return given === undefined || given === '' ? Math.floor(Math.random() * 2 ** 31) : Number(given)
}
