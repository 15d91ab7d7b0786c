// A port that cannot be listened on is a configuration error naming its variable.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, test } from 'node:test'
import { AppError } from './errors.ts'
import { checkPortFree, listenError, listening } from './listen.ts'

const servers: Server[] = []
after(() => {
  for (const server of servers) server.close()
})

async function listen(port: number, host = '127.0.0.1'): Promise<number> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return (server.address() as { port: number }).port
}

function assertConfigError(err: unknown, message: RegExp): true {
  assert.ok(err instanceof AppError)
  assert.equal(err.code, 'CONFIG_INVALID')
  assert.match(err.message, message)
  return true
}

test('a port in use: CONFIG_INVALID naming the variable and the address', async () => {
  const port = await listen(0)
  await assert.rejects(checkPortFree({ variable: 'PORT', host: '127.0.0.1', port }), (err) =>
    assertConfigError(err, new RegExp(`^invalid configuration:\\n {2}PORT: 127\\.0\\.0\\.1:${port} is already in use; choose another PORT$`))
  )
  await assert.rejects(
    listening({ variable: 'METRICS_PORT', host: '127.0.0.1', port }, () => listen(port)),
    (err) => assertConfigError(err, /METRICS_PORT: 127\.0\.0\.1:\d+ is already in use; choose another METRICS_PORT/)
  )
})

test('a free port passes and stays free; port 0 passes', async () => {
  const port = await listen(0)
  servers.pop()?.close()
  await new Promise((r) => setTimeout(r, 50))
  await checkPortFree({ variable: 'PORT', host: '127.0.0.1', port })
  assert.equal(await listen(port), port)
  await checkPortFree({ variable: 'PORT', host: '127.0.0.1', port: 0 })
})

test('a host that is not this machine names HOST; other errors pass through unchanged', () => {
  const notLocal = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' })
  assertConfigError(
    listenError({ variable: 'PORT', host: '10.255.255.1', port: 3000, hostVariable: 'HOST' }, notLocal),
    /HOST: 10\.255\.255\.1 is not an address of this machine/
  )
  const unknown = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' })
  assertConfigError(
    listenError({ variable: 'PORT', host: 'nowhere.invalid', port: 3000, hostVariable: 'HOST' }, unknown),
    /HOST: "nowhere\.invalid" does not resolve to an address/
  )
  const denied = Object.assign(new Error('listen EACCES'), { code: 'EACCES' })
  assertConfigError(listenError({ variable: 'PORT', host: '::', port: 80 }, denied), /PORT: not allowed to listen on \[::\]:80/)
  const other = new Error('boom')
  assert.equal(listenError({ variable: 'PORT', host: '127.0.0.1', port: 1 }, other), other)
})
