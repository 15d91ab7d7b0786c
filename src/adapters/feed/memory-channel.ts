// The in-process twin of a Redis pub/sub channel (redis-channel.ts), for the memory feeds: delivery
// is asynchronous, as with Redis, to those listening when a batch was published (and still are),
// each listener given a copy of the batch's items. The memory feeds extend it.
export class MemoryChannel<T extends object> {
  private readonly listeners = new Set<(items: readonly T[]) => void>()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.listeners.clear()
  }

  async publish(items: readonly T[]): Promise<void> {
    if (items.length === 0) return
    const copy = items.map((item) => ({ ...item }))
    const listeners = [...this.listeners]
    setImmediate(() => {
      for (const l of listeners) if (this.listeners.has(l)) l(copy)
    })
  }

  async listen(listener: (items: readonly T[]) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener)
    return async () => {
      this.listeners.delete(listener)
    }
  }
}
