// Which dead letters were re-sent to the readings topic, so that each is re-sent once however many
// times (or how many at once) `sensorstream dlq replay` runs.
import type { Lifecycle } from './lifecycle.ts'

export interface DeadLetterId {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}

export interface DeadLetterLedger extends Lifecycle {
  /** Applies pending schema migrations. */
  migrate(): Promise<void>
  /** When each of these dead letters was re-sent ("topic:partition:offset" → time); absent: never. */
  replayed(ids: readonly DeadLetterId[]): Promise<ReadonlyMap<string, Date>>
  /**
   * Claims those of `ids` that no one has re-sent, hands them to `send`, and records them as re-sent
   * once `send` resolved, atomically: if `send` rejects nothing is recorded (they are claimed again
   * next time), and a claim held by another run makes this one wait for it and then skip what it
   * re-sent. Resolves with what this call sent.
   */
  resendOnce(ids: readonly DeadLetterId[], send: (claimed: readonly DeadLetterId[]) => Promise<void>): Promise<readonly DeadLetterId[]>
}

export function deadLetterKey(id: DeadLetterId): string {
  return `${id.topic}:${id.partition}:${id.offset}`
}
