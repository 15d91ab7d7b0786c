// A service run in a worker: stops when asked, gets its resource limits, and its errors keep their code.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { loadConfig } from '../platform/config.ts'
import { AppError } from '../platform/errors.ts'
import { createLogger } from '../platform/logger.ts'
import { runServiceInWorker, siblingModule } from './in-worker.ts'

const config = loadConfig({ LOG_LEVEL: 'silent' })
const logger = createLogger('silent').child({ service: 'test' })
const fixture = (name: string): string => siblingModule(import.meta.url, `in-worker.fixtures/${name}`)

describe('runServiceInWorker', () => {
  test('runs until the signal aborts, with the resource limits given', async () => {
    const stop = new AbortController()
    const running = runServiceInWorker(fixture('waits'), { config, logger, signal: stop.signal }, { maxYoungGenerationSizeMb: 12 })
    let settled = false
    void running.finally(() => (settled = true))
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(settled, false, 'the service stopped before it was asked to')
    stop.abort()
    await running
  })

  test("rejects with the service's AppError, code and retryable kept", async () => {
    const running = runServiceInWorker(fixture('fails'), { config, logger, signal: new AbortController().signal }, {})
    await assert.rejects(running, (err: unknown) => {
      assert.ok(err instanceof AppError)
      assert.equal(err.code, 'UNAVAILABLE')
      assert.equal(err.retryable, true)
      assert.equal(err.message, 'postgres unavailable (log level silent)')
      return true
    })
  })

  test('rejects when the module has no such file', async () => {
    await assert.rejects(runServiceInWorker(fixture('missing'), { config, logger, signal: new AbortController().signal }, {}), /missing/)
  })
})
