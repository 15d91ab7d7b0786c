// The CLI as a user meets it: a child process `node src/cli.ts …`, its exit code and what it prints.
// Unreachable services are 127.0.0.1:1, which refuses at once; one test starts a throwaway Postgres.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freshDatabase } from '../test/harness/index.ts'

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url))
const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
const UNREACHABLE = { KAFKA_BROKERS: '127.0.0.1:1', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', REDIS_URL: 'redis://127.0.0.1:1' }

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

interface Running {
  /** resolves once the output matches */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>
  output(): string
  exited: Promise<Ran>
  kill(signal: NodeJS.Signals): void
}

function start(args: readonly string[], env: Record<string, string> = {}, nodeArgs: readonly string[] = []): Running {
  // cwd: a folder without .env, so that nothing but `env` configures the child
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    cwd: fileURLToPath(new URL('./platform/', import.meta.url)),
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const exited = once(child, 'exit').then(([code]) => {
    clearTimeout(timer)
    return { code: code as number | null, stdout, stderr }
  })
  return {
    output: () => stdout + stderr,
    printed: async (pattern, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs
      while (!pattern.test(stdout + stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`never printed ${pattern}:\n${stdout}${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    exited,
    kill: (signal) => child.kill(signal)
  }
}

const run = (args: readonly string[], env: Record<string, string> = {}): Promise<Ran> => start(args, env).exited

/** A usage or configuration problem: exit 2, a plain message on stderr, no stack, no JSON log. */
function assertUsageError(ran: Ran, pattern: RegExp): void {
  assert.equal(ran.code, 2, `exit code\n${ran.stdout}${ran.stderr}`)
  assert.match(ran.stderr, pattern)
  assert.doesNotMatch(ran.stderr + ran.stdout, /\n\s+at |"level":|ERR_[A-Z_]+|Warning:/)
}

describe('flags and help', () => {
  test('an unknown flag is one line and a hint, exit 2', async () => {
    for (const args of [['--verbose'], ['-v'], ['producer', '--verbose'], ['api', '-x']]) {
      const ran = await run(args)
      assertUsageError(ran, new RegExp(`^sensorstream: unknown option ${args.at(-1)}\\nRun \`sensorstream --help\` for usage\\.\\n$`))
    }
  })

  test('a value given to a flag that takes none is one line too', async () => {
    assertUsageError(await run(['--help=yes']), /^sensorstream: option -h, --help takes no value\n/)
  })

  test('--version prints the version of package.json', async () => {
    const ran = await run(['--version'])
    assert.equal(ran.code, 0)
    assert.equal(ran.stdout, `sensorstream ${PACKAGE.version}\n`)
  })

  test('`help <command>` is `<command> --help`', async () => {
    const help = await run(['help', 'producer'])
    const flag = await run(['producer', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Usage: sensorstream producer\n/)
    assert.equal(help.stdout, flag.stdout)
    assertUsageError(await run(['help', 'nope']), /unknown command "nope"/)
    assertUsageError(await run(['api', 'extra']), /unexpected argument "extra"/)
  })

  test('--help marks exactly the variables the command refuses to start without', async () => {
    for (const command of ['producer', 'streaming', 'api', 'migrate', 'all']) {
      const help = await run([command, '--help'])
      const marked = [...help.stdout.matchAll(/^ {2}(\w+) +\(required\)/gm)].map((m) => m[1]).sort()
      const ran = await run([command], command === 'all' ? { PORT: 'x' } : {})
      const demanded = [...ran.stderr.matchAll(/^ {2}(\w+): required by/gm)].map((m) => m[1]).sort()
      assert.deepEqual(marked, demanded, command)
      if (command !== 'all') assert.ok(marked.length > 0, command)
    }
  })
})

describe('configuration', () => {
  test('a broker port out of range is a configuration error naming KAFKA_BROKERS (was: exit 13 after 3 s)', async () => {
    const ran = await run(['producer'], { KAFKA_BROKERS: '127.0.0.1:99999', PRODUCER_COUNT: '1' })
    assertUsageError(ran, /KAFKA_BROKERS: "127\.0\.0\.1:99999": port must be from 1 to 65535/)
  })

  test('a call that never settles ends in one line and exit 1, not Node\'s "unsettled top-level await" (13)', async () => {
    const preload = new URL('./cli.fixtures/connect-throws.ts', import.meta.url).href
    const ran = await start(['producer'], { KAFKA_BROKERS: '127.0.0.1:1' }, ['--import', preload]).exited
    assert.equal(ran.code, 1, ran.stdout + ran.stderr)
    assert.match(ran.stderr, /^sensorstream: stopped: an operation never finished/m)
    assert.doesNotMatch(ran.stderr, /unsettled top-level await/)
  })

  test('URL variables are checked the same way', async () => {
    const ran = await run(['api'], { DATABASE_URL: 'postgres://127.0.0.1:70000/x', REDIS_URL: 'redis://127.0.0.1:0', HOST: '127.0.0.1:3000' })
    assertUsageError(ran, /DATABASE_URL: port must be from 1 to 65535[^\n]*\n {2}REDIS_URL: port must be from 1 to 65535[^\n]*\n[\s\S]*HOST: /)
  })
})

describe('a port in use', () => {
  const blockers: Server[] = []
  after(() => {
    for (const server of blockers) server.close()
  })
  async function busyPort(host: string): Promise<number> {
    const server = createServer()
    blockers.push(server)
    await new Promise<void>((resolve) => server.listen(0, host, () => resolve()))
    return (server.address() as { port: number }).port
  }

  test('api: PORT taken says so naming PORT, exit 2, before it waits for Postgres', async () => {
    const port = await busyPort('127.0.0.1')
    const ran = await run(['api'], { ...UNREACHABLE, HOST: '127.0.0.1', PORT: String(port) })
    assertUsageError(ran, new RegExp(`PORT: 127\\.0\\.0\\.1:${port} is already in use; choose another PORT`))
  })

  test('streaming: METRICS_PORT taken says so naming METRICS_PORT, exit 2', async () => {
    const port = await busyPort('0.0.0.0')
    const ran = await run(['streaming'], { ...UNREACHABLE, METRICS_PORT: String(port) })
    assertUsageError(ran, new RegExp(`METRICS_PORT: 0\\.0\\.0\\.0:${port} is already in use; choose another METRICS_PORT`))
  })
})

describe('SIGTERM while waiting for a dependency', () => {
  const refusedPostgres = /postgres unavailable during ping: connect ECONNREFUSED 127\.0\.0\.1:1"/
  for (const [command, waiting, stopped] of [
    ['api', refusedPostgres, 'api stopped'],
    ['streaming', refusedPostgres, 'streaming stopped'],
    ['producer', /kafka unavailable: metadata failed \d+ times: connect ECONNREFUSED 127\.0\.0\.1:1"/, 'producer stopped'],
    ['migrate', refusedPostgres, 'migrate stopped before it began']
  ] as const) {
    test(`${command}: a clean stop, exit 0, "${stopped}", each reason said once`, async () => {
      const cli = start([command], { ...UNREACHABLE, METRICS_PORT: '0' })
      await cli.printed(/"msg":"waiting for dependency"/)
      const stopAsked = Date.now()
      cli.kill('SIGTERM')
      const ran = await cli.exited
      const output = ran.stdout + ran.stderr
      assert.equal(ran.code, 0, output)
      assert.ok(Date.now() - stopAsked < 9_000, `took ${Date.now() - stopAsked} ms to stop`)
      assert.match(output, waiting)
      assert.match(output, new RegExp(`"msg":"${stopped}"`))
      assert.doesNotMatch(output, /stopped by an error|"level":[56]0/)
      assert.doesNotMatch(output, /(ECONNREFUSED 127\.0\.0\.1:1|failed \d+ times)\.?: \1/)
    })
  }
})

test('migrate on a reachable Postgres: applies the schema, exit 0, twice', async () => {
  const url = await freshDatabase('cli')
  for (let run = 0; run < 2; run++) {
    const ran = await start(['migrate'], { DATABASE_URL: url }).exited
    assert.equal(ran.code, 0, ran.stdout + ran.stderr)
    assert.match(ran.stdout, /"msg":"schema is up to date"/)
  }
})

test('Postgres up, Redis down: the waiting line names the Redis address and why, once; SIGTERM exits 0', async () => {
  const cli = start(['api'], { DATABASE_URL: await freshDatabase('cli'), REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' })
  await cli.printed(/"part":"latest".*"msg":"waiting for dependency"/)
  cli.kill('SIGTERM')
  const ran = await cli.exited
  assert.equal(ran.code, 0, ran.stdout + ran.stderr)
  assert.match(
    ran.stdout,
    /"err":\{"type":"AppError","message":"redis unavailable at 127\.0\.0\.1:1 during connect: Connection is closed \(connect ECONNREFUSED 127\.0\.0\.1:1\)"/
  )
  assert.match(ran.stdout, /"msg":"api stopped"/)
})
