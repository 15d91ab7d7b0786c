// Waiting for a writable to take some of its backlog, without leaking listeners.

/** Resolves on the stream's next 'drain' or 'close', whichever comes first. */
export function drainedOrClosed(stream: { once(event: string, l: () => void): unknown; off(event: string, l: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.once('drain', done)
    stream.once('close', done)
  })
}
