/** Every adapter opens and closes its connections; shutdown closes in reverse order of connect. */
export interface Lifecycle {
  connect(): Promise<void>
  close(): Promise<void>
}
