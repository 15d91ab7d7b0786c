// The one way tests wait for something to become true: poll a probe until it gives a value, within
// a bound. A probe that throws counts as "not yet" (a service still starting), and the last error
// is named if the bound is reached. Prefer waiting on an event where there is one (`once`,
// a promise the code under test resolves); this is for state that is only observable by asking.

/** Resolves with the probe's first value that is neither `undefined` nor `false`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 100
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
