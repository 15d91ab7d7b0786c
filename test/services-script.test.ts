// `npm run services:up` (scripts/services.ts) from two clones on one machine. Throwaway servers play
// the machine's own Postgres and Redis (SERVICES_POSTGRES_PORT, SERVICES_REDIS_PORT point at them;
// the real 5432 and 6379 are never touched), and each clone is a folder holding a copy of the script
// and dev/ with src/adapters/embedded/. Kafka is left out (`up postgres redis`): its port moves through the same code.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmodSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, test } from 'node:test'
import { isAlive } from '../src/adapters/embedded/processes.ts'
import { sql } from './e2e/support.ts'
import { usePostgres, useRedis } from './harness/index.ts'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('..', import.meta.url))
const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function makeClone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sensorstream-test-clone-'))
  chmodSync(dir, 0o755) // as root its own PostgreSQL would run as `postgres`
  dirs.push(dir)
  for (const path of ['package.json', 'scripts/services.ts', 'dev', 'src/adapters/embedded', 'src/adapters/store/postgres-server.ts', 'src/platform/pid.ts'])
    cpSync(join(REPO, path), join(dir, path), { recursive: true })
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

interface Result {
  readonly vars: Record<string, string>
  readonly said: string
}

async function services(clone: string, args: string[], env: Record<string, string>): Promise<Result> {
  const { stdout, stderr } = await run(process.execPath, ['scripts/services.ts', ...args], {
    cwd: clone,
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000
  })
  const vars = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
  )
  return { vars, said: stderr }
}

const databaseOf = (url: string | undefined): string => decodeURIComponent(new URL(url ?? 'x:').pathname.slice(1))

test('two clones share the machine Postgres and Redis without colliding; a port taken is replaced by a free one, and said so', async () => {
  const [postgres, redis] = await Promise.all([usePostgres(), useRedis()])
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  const busyPort = (busy.address() as AddressInfo).port
  const [a, b] = [makeClone(), makeClone()]
  const shared = { SERVICES_POSTGRES_PORT: String(postgres.port), SERVICES_REDIS_PORT: String(redis.port) }
  try {
    const upA = await services(a, ['up', 'postgres', 'redis'], shared)
    // Clone b finds something that is not Redis where Redis is expected: it starts its own elsewhere.
    const upB = await services(b, ['up', 'postgres', 'redis'], { ...shared, SERVICES_REDIS_PORT: String(busyPort) })

    const [dbA, dbB] = [databaseOf(upA.vars.DATABASE_URL), databaseOf(upB.vars.DATABASE_URL)]
    assert.match(dbA, /^sensorstream_[0-9a-f]{8}$/)
    assert.match(dbB, /^sensorstream_[0-9a-f]{8}$/)
    assert.notEqual(dbA, dbB, 'each clone has its own database')
    assert.equal(new URL(upA.vars.DATABASE_URL ?? '').port, String(postgres.port), 'the machine Postgres is used')
    const names = (await sql<{ datname: string }>(postgres.url, 'SELECT datname FROM pg_database')).map((r) => r.datname)
    assert.ok(names.includes(dbA) && names.includes(dbB), names.join(','))
    assert.match(upA.said, new RegExp(`database ${dbA}`))

    assert.equal(upA.vars.REDIS_URL, `redis://127.0.0.1:${redis.port}`)
    assert.equal(upA.vars.REDIS_KEY_PREFIX, `${dbA}:`)
    assert.equal(upB.vars.REDIS_KEY_PREFIX, `${dbB}:`)
    assert.match(upB.said, new RegExp(`^redis +127\\.0\\.0\\.1:${busyPort} is taken .*: using \\d+ instead$`, 'm'))
    assert.notEqual(new URL(upB.vars.REDIS_URL ?? '').port, String(busyPort))

    const again = await services(a, ['up', 'postgres', 'redis'], shared)
    assert.deepEqual(again.vars, upA.vars, 'the same clone gets the same names again')
    assert.deepEqual((await services(a, ['env'], shared)).vars, upA.vars)

    const status = await services(b, ['status'], shared)
    const pid = Number(/^redis .*running \(pid (\d+)\)/m.exec(status.said)?.[1])
    assert.ok(isAlive(pid), status.said)

    const downA = await services(a, ['down', '--purge'], shared)
    assert.match(downA.said, new RegExp(`dropped this clone's database ${dbA}`))
    const downB = await services(b, ['down'], shared)
    assert.match(downB.said, new RegExp(`this clone's database ${dbB} is kept`))
    assert.ok(!isAlive(pid), 'down stopped the Redis that b started')
    const left = (await sql<{ datname: string }>(postgres.url, 'SELECT datname FROM pg_database')).map((r) => r.datname)
    assert.ok(!left.includes(dbA) && left.includes(dbB), left.join(','))
  } finally {
    busy.close()
    await services(b, ['down'], shared).catch(() => undefined)
  }
})
