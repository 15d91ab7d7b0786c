// The schema the store and the queries need: brought up to date before either is used (by
// `sensorstream migrate`, and by every service at its start).
export interface Migrations {
  /** Applies pending schema migrations; safe to run twice or from two processes at once. */
  migrate(): Promise<void>
}
