// `sensorstream all` (what `npm start` runs) as a child process: on the embedded defaults (in-process
// bus and cache, its own PostgreSQL in DATA_DIR), then with real Postgres and Redis, then with Kafka too.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import { freshDatabase, uniqueName, useKafka, useRedis } from '../harness/index.ts'
import { rowCount, startCli, waitFor, type CliProcess } from './support.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sensorstream-e2e-all-'))
  chmodSync(dir, 0o755) // as root the embedded PostgreSQL runs as `postgres`, who must enter it
  dirs.push(dir)
  return dir
}

interface Reading {
  sensor_id: string
  value: number
  timestamp: number
}

async function getJson<T>(url: string): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as T, headers: res.headers }
}

/** Starts `sensorstream all` and waits for all its startup lines; returns the process and the API URL. */
async function startAll(env: Record<string, string>, options: { detached?: boolean } = {}): Promise<{ cli: CliProcess; api: string }> {
  // Its embedded MQTT broker on a port of its own, never a broker of the machine's on 1883.
  const cli = startCli('all', { PRODUCER_INTERVAL_MS: '200', BATCH_MAX_WAIT_MS: '50', MQTT_EMBEDDED_PORT: String(await freePort()), ...env }, options)
  try {
    const api = await waitFor(
      'the startup lines',
      async () => {
        if (cli.child.exitCode !== null) throw new Error(`exited with ${cli.child.exitCode}:\n${cli.output()}`)
        // The lines may arrive in several chunks: wait for the last one before reading them.
        return /^Ctrl-C stops everything\.$/m.test(cli.output()) ? /^ {2}api {7}(http:\/\/\S+)/m.exec(cli.output())?.[1] : undefined
      },
      60_000,
      50
    )
    return { cli, api }
  } catch (err) {
    await cli.kill()
    throw err
  }
}

async function producerReadingsVisible(api: string): Promise<Reading[]> {
  return waitFor(
    'the producer readings of sensor-123 in GET /data',
    async () => {
      const { status, body } = await getJson<Reading[]>(`${api}/data?sensor_id=sensor-123&limit=100`)
      return status === 200 && body.length > 0 && body
    },
    20_000,
    100
  )
}

async function postThenRecent(api: string, sensorId: string, value: number): Promise<string | null> {
  const timestamp = Math.floor(Date.now() / 1000)
  const posted = await fetch(`${api}/data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sensor_id: sensorId, value, timestamp })
  })
  assert.equal(posted.status, 201, await posted.clone().text())
  const recent = await getJson<Reading>(`${api}/recent/${sensorId}`)
  assert.equal(recent.status, 200)
  assert.deepEqual(recent.body, { sensor_id: sensorId, value, timestamp })
  return recent.headers.get('x-cache')
}

/** Command lines of running processes that mention `text` (pgrep -f), other than pgrep itself. */
function processesMentioning(text: string): string {
  try {
    return execFileSync('pgrep', ['-fa', text], { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

test('embedded defaults: data flows, POST then /recent, a second start is refused, SIGTERM exits 0 and leaves nothing, a restart keeps the data', async () => {
  const dir = dataDir()
  const port = String(await freePort())
  const started = Date.now()
  const { cli, api } = await startAll({ DATA_DIR: dir, PORT: port })
  let stopped = false
  try {
    const output = cli.output()
    assert.match(output, /^ {2}postgres {2}postgres:\/\/postgres(:\*\*\*)?@127\.0\.0\.1:\d+\/sensorstream .*embedded/m)
    assert.match(output, /^ {2}kafka {5}in-process bus/m)
    assert.match(output, /^ {2}redis {5}in-process cache/m)
    assert.equal(api, `http://127.0.0.1:${port}`)

    const readings = await producerReadingsVisible(api)
    assert.ok(readings.every((r) => r.sensor_id === 'sensor-123' && Number.isFinite(r.value)))
    const firstReadingMs = Date.now() - started
    assert.equal(await postThenRecent(api, 'e2e-all-embedded', 42.5), 'hit')
    await waitFor('a progress line', async () => /^readings: \d+ produced, \d+ stored, [\d.]+\/s$/m.test(cli.output()), 15_000)

    // A second start on the same DATA_DIR says the first is running and exits non-zero.
    const second = startCli('all', { DATA_DIR: dir, PORT: String(await freePort()) })
    const code = await second.exited()
    assert.notEqual(code, 0)
    assert.match(second.output(), new RegExp(`already running with data in ${dir} \\(pid ${cli.child.pid}\\)`))
    assert.match(cli.output(), /^readings: /m, 'the first one is unaffected')

    assert.equal(await cli.stop(15_000), 0, cli.output())
    stopped = true
    assert.match(cli.output(), /^stopping…\n(.*\n)*stopped$/m)
    assert.doesNotMatch(cli.output(), /^\{/m, 'at the default LOG_LEVEL `all` prints plain lines only, no JSON log')
    assert.equal(processesMentioning(join(dir, 'postgres')), '', 'the embedded PostgreSQL is shut down')
    assert.equal(processesMentioning(dir), '', 'no process left')
    assert.ok(!existsSync(join(dir, 'sensorstream.pid')), 'the lock is released')
    process.stdout.write(`# first producer reading visible after ${firstReadingMs} ms\n`)
  } finally {
    if (!stopped) await cli.kill()
  }

  // The restart finds the data (the new in-process cache starts from what Postgres holds).
  const again = await startAll({ DATA_DIR: dir, PORT: port, PRODUCER_COUNT: '1' })
  try {
    const recent = await getJson<Reading>(`${api}/recent/e2e-all-embedded`)
    assert.equal(recent.status, 200)
    assert.equal(recent.body.value, 42.5)
    const history = await getJson<Reading[]>(`${api}/data?sensor_id=sensor-123&limit=1000`)
    assert.ok(history.body.length >= 2, 'the readings of the first run are still there')

    // A run that is killed leaves a stale lock: the next start takes it over.
    await again.cli.kill()
    assert.ok(existsSync(join(dir, 'sensorstream.pid')))
    await waitFor("the killed run's PostgreSQL to go", async () => processesMentioning(join(dir, 'postgres')) === '', 15_000)
    const third = await startAll({ DATA_DIR: dir, PORT: port, PRODUCER_COUNT: '1' })
    assert.equal((await getJson<Reading>(`${api}/recent/e2e-all-embedded`)).body.value, 42.5)
    assert.equal(await third.cli.stop(15_000), 0, third.cli.output())
  } finally {
    await again.cli.kill()
  }
  assert.equal(processesMentioning(dir), '')
})

test('DATABASE_URL and REDIS_URL set: the real Postgres and Redis serve, nothing embedded starts for them', async () => {
  const [databaseUrl, redis] = await Promise.all([freshDatabase('all'), useRedis()])
  const dir = dataDir()
  const { cli, api } = await startAll({
    DATA_DIR: dir,
    PORT: String(await freePort()),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `${uniqueName('all')}:`
  })
  let stopped = false
  try {
    assert.match(cli.output(), new RegExp(`^ {2}postgres {2}${databaseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
    assert.match(cli.output(), new RegExp(`^ {2}redis {5}${redis.url}`, 'm'))
    assert.match(cli.output(), /^ {2}kafka {5}in-process bus/m)
    await producerReadingsVisible(api)
    assert.ok((await rowCount(databaseUrl)) > 0, 'the readings are in the given database')
    assert.equal(await postThenRecent(api, 'e2e-all-real', 7.25), 'hit')
    assert.ok(!existsSync(join(dir, 'postgres')), 'no embedded PostgreSQL')
    assert.equal(await cli.stop(15_000), 0, cli.output())
    stopped = true
  } finally {
    if (!stopped) await cli.kill()
  }
  assert.equal(processesMentioning(dir), '')
})

test('KAFKA_BROKERS set too: every part is the real service', async () => {
  const [kafka, databaseUrl, redis] = await Promise.all([useKafka(), freshDatabase('all'), useRedis()])
  const topic = uniqueName('all')
  const { cli, api } = await startAll({
    DATA_DIR: dataDir(),
    PORT: String(await freePort()),
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: uniqueName('group'),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `${uniqueName('all')}:`
  })
  let stopped = false
  try {
    assert.match(cli.output(), new RegExp(`^ {2}kafka {5}${kafka.brokers} \\(topic ${topic}`, 'm'))
    await producerReadingsVisible(api)
    assert.equal(await postThenRecent(api, 'e2e-all-kafka', 1.5), 'hit')
    assert.equal(await cli.stop(15_000), 0, cli.output())
    stopped = true
  } finally {
    if (!stopped) await cli.kill()
  }
})

/** The local addresses of the TCP sockets listening on `port` (Linux /proc/net/tcp and tcp6). */
function listeningAddresses(port: number): string[] {
  const found: string[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/)
      const [hex, portHex] = (local ?? '').split(':')
      if (state !== '0A' || hex === undefined || Number.parseInt(portHex ?? '', 16) !== port) continue
      // IPv4 is stored as one little-endian word; IPv6 (all-zero or not) is kept in hex.
      found.push(
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .reverse()
              .map((b) => Number.parseInt(b, 16))
              .join('.')
          : hex === '0'.repeat(32)
            ? '::'
            : hex
      )
    }
  }
  return found
}

test('HOST: `all` listens on 127.0.0.1 only unless HOST says otherwise, and its api line shows the real address', async () => {
  const dir = dataDir()
  const port = await freePort()
  const loopback = await startAll({ DATA_DIR: dir, PORT: String(port), PRODUCER_COUNT: '1' })
  try {
    assert.deepEqual(listeningAddresses(port), ['127.0.0.1'])
    assert.match(loopback.cli.output(), new RegExp(`^ {2}api {7}http://127\\.0\\.0\\.1:${port} .*listening on 127\\.0\\.0\\.1:${port} only`, 'm'))
    assert.equal(await loopback.cli.stop(15_000), 0, loopback.cli.output())
  } finally {
    await loopback.cli.kill()
  }

  const open = await startAll({ DATA_DIR: dir, PORT: String(port), PRODUCER_COUNT: '1', HOST: '0.0.0.0' })
  try {
    assert.deepEqual(listeningAddresses(port), ['0.0.0.0'])
    assert.match(open.cli.output(), new RegExp(`^ {2}api {7}http://127\\.0\\.0\\.1:${port} .*listening on 0\\.0\\.0\\.0:${port}: every network interface`, 'm'))
    assert.equal(await open.cli.stop(15_000), 0, open.cli.output())
  } finally {
    await open.cli.kill()
  }
})

test('a restart on the same DATA_DIR: /sensors and /recent answer as before, from the in-process cache filled from Postgres', async () => {
  const dir = dataDir()
  const port = String(await freePort())
  const sensors = ['warm-a', 'warm-b']
  const mine = (readings: Reading[]): Reading[] => readings.filter((r) => sensors.includes(r.sensor_id))
  const first = await startAll({ DATA_DIR: dir, PORT: port, PRODUCER_SENSORS: sensors.join(','), PRODUCER_COUNT: '4' })
  let before: Reading[]
  try {
    before = await waitFor(
      'the 4 readings stored and both sensors in /sensors',
      async () => {
        const stored = await getJson<Reading[]>(`${first.api}/data?limit=100`)
        const listed = mine((await getJson<Reading[]>(`${first.api}/sensors`)).body)
        return mine(stored.body).length === 4 && listed.length === 2 && listed
      },
      20_000,
      100
    )
    assert.equal(await first.cli.stop(15_000), 0, first.cli.output())
  } finally {
    await first.cli.kill()
  }

  const second = await startAll({ DATA_DIR: dir, PORT: port, PRODUCER_SENSORS: 'warm-other', PRODUCER_COUNT: '1' })
  try {
    assert.deepEqual(mine((await getJson<Reading[]>(`${second.api}/sensors`)).body), before, 'the sensors not reporting again are still listed')
    for (const reading of before) {
      const recent = await getJson<Reading>(`${second.api}/recent/${reading.sensor_id}`)
      assert.deepEqual(recent.body, reading)
      assert.equal(recent.headers.get('x-cache'), 'hit')
    }
    assert.equal(await second.cli.stop(15_000), 0, second.cli.output())
  } finally {
    await second.cli.kill()
  }
})

test('Ctrl-C in a terminal (SIGINT to the whole process group): the app closes its connections, then stops its PostgreSQL; no warning, exit 0', async () => {
  const dir = dataDir()
  const { cli, api } = await startAll({ DATA_DIR: dir, PORT: String(await freePort()) }, { detached: true })
  try {
    await producerReadingsVisible(api)
    const pid = cli.child.pid ?? 0
    process.kill(-pid, 'SIGINT')
    assert.equal(await cli.exited(), 0, cli.output())
  } finally {
    await cli.kill()
  }
  assert.doesNotMatch(cli.output(), /connection lost|terminating connection/, 'PostgreSQL stopped after the pools were closed')
  assert.match(cli.output(), /^stopped$/m)
  assert.equal(processesMentioning(join(dir, 'postgres')), '', 'the embedded PostgreSQL is shut down')
})

test('a start that cannot succeed fails before it creates anything: API port taken, DATA_DIR not writable', async () => {
  const dir = dataDir()
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  const port = (taken.address() as AddressInfo).port
  try {
    const busy = startCli('all', { DATA_DIR: dir, PORT: String(port) })
    assert.equal(await busy.exited(), 2, busy.output())
    assert.match(busy.output(), new RegExp(`PORT: 127\\.0\\.0\\.1:${port} is already in use; choose another PORT`))
    assert.ok(!existsSync(join(dir, 'postgres')), 'no PostgreSQL cluster was created')
    assert.ok(!existsSync(join(dir, 'sensorstream.pid')), 'the lock is released')
  } finally {
    taken.close()
  }

  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  const unwritable = startCli('all', { DATA_DIR: join(file, 'data'), PORT: String(await freePort()) })
  assert.equal(await unwritable.exited(), 2, unwritable.output())
  assert.match(unwritable.output(), new RegExp(`DATA_DIR: cannot create or write to ${file}/data \\(ENOTDIR\\); choose another DATA_DIR`))
})
