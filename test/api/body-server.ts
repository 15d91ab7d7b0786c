// A child process for test/api/body-budget.test.ts: the API on the given Postgres and Redis, so that
// its memory is measured apart from the test's clients. Prints {url} once listening; on each stdin
// line `rss` collects garbage and prints {rss, peakRss} (bytes; peak sampled every 10 ms).
import { createInterface } from 'node:readline'
import { openApi } from './setup.ts'

const { DATABASE_URL, REDIS_URL, API_BODY_BUDGET_BYTES } = process.env
const f = await openApi(
  DATABASE_URL as string,
  REDIS_URL as string,
  API_BODY_BUDGET_BYTES === undefined ? {} : { bodyBudgetBytes: Number(API_BODY_BUDGET_BYTES) }
)
const api = await f.listen()
let peakRss = process.memoryUsage.rss()
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10).unref()
console.log(JSON.stringify({ url: api.url }))

const gc = (globalThis as { gc?: () => void }).gc
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'rss') {
    for (let i = 0; i < 3; i++) {
      gc?.()
      await new Promise((r) => setTimeout(r, 100))
    }
    console.log(JSON.stringify({ rss: process.memoryUsage.rss(), peakRss }))
  }
}
await f.close()
