// Logged errors say each reason once: the cause is kept as a nested object, not appended.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { unavailable } from './errors.ts'
import { createLogger } from './logger.ts'

test('an AppError and its cause: the cause message appears once in the message, the cause stays apart', () => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    }
  })
  const logger = createLogger('info', 'test', sink)
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  logger.error({ err: unavailable('postgres', cause) }, 'failed')
  const line = JSON.parse(lines.join('')) as { err: { message: string; stack: string; cause: { message: string; code: string } } }
  assert.equal(line.err.message, 'postgres unavailable: connect ECONNREFUSED 127.0.0.1:1')
  assert.equal(line.err.cause.message, 'connect ECONNREFUSED 127.0.0.1:1')
  assert.equal(line.err.cause.code, 'ECONNREFUSED')
  assert.equal(line.err.stack.split('ECONNREFUSED 127.0.0.1:1').length - 1, 1, line.err.stack)
})
