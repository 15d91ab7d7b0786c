import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { canConnect, freePort, isPortFree } from './free-port.ts'

test('freePort finds a port that can be bound, and then is taken', async () => {
  const port = await freePort()
  assert.ok(port > 0 && port < 65536)
  assert.equal(await isPortFree(port), true)
  assert.equal(await canConnect(port), false)
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  try {
    assert.equal(await isPortFree(port), false)
    assert.equal(await canConnect(port), true)
    assert.notEqual(await freePort([port]), port)
  } finally {
    server.close()
  }
})
