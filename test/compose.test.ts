// No Docker engine runs here: docker-compose.yml and the Dockerfile are checked statically against
// the config module, each other and .ci/run.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { parse } from 'yaml'
import { loadConfig, VARIABLES } from '../src/platform/config.ts'

const root = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url))
const read = (path: string): string => readFileSync(root(path), 'utf8')

interface Service {
  image?: string
  build?: string | { context?: string; dockerfile?: string }
  command?: string | string[]
  entrypoint?: string | string[]
  environment?: Record<string, string | number | boolean> | string[]
  ports?: (string | { target: number; published: number | string })[]
  volumes?: (string | { type?: string; source?: string; target: string })[]
  healthcheck?: { test?: string | string[]; disable?: boolean }
  depends_on?: string[] | Record<string, { condition?: string }>
  restart?: string
}

interface Compose {
  services: Record<string, Service>
  volumes?: Record<string, unknown>
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose
const services = compose.services
const dockerfile = read('Dockerfile')
const SENSORSTREAM = ['producer', 'streaming', 'api'] as const

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {}
  if (Array.isArray(env)) return Object.fromEntries(env.map((e) => [e.split('=')[0] ?? '', e.split('=').slice(1).join('=')]))
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]))
}

const words = (value: string | string[] | undefined): string => (Array.isArray(value) ? value.join(' ') : (value ?? ''))
const isOneShot = (service: Service): boolean => service.restart === 'no'
/** Services run from the image this repository's Dockerfile builds. */
const fromOurImage = (service: Service): boolean => {
  const build = service.build
  const dockerfileName = typeof build === 'object' ? (build.dockerfile ?? 'Dockerfile') : 'Dockerfile'
  const context = typeof build === 'object' ? (build.context ?? '.') : build
  return build !== undefined && context === '.' && dockerfileName === 'Dockerfile'
}

test('producer, streaming and api run the image built from ./Dockerfile, each with its own command', () => {
  const images = new Set<string | undefined>()
  for (const name of SENSORSTREAM) {
    const service = services[name]
    assert.ok(service, `service ${name}`)
    assert.ok(fromOurImage(service), `${name} is built from ./Dockerfile`)
    assert.deepEqual(service.command, [name])
    images.add(service.image)
  }
  assert.equal(images.size, 1, 'one image for the three services')
})

test('every environment variable of a sensorstream service is one the config module knows, with valid values', () => {
  for (const [name, service] of Object.entries(services)) {
    if (!fromOurImage(service)) continue
    const env = environment(service)
    for (const variable of Object.keys(env)) assert.ok(variable in VARIABLES, `${name}: ${variable} is not a sensorstream variable`)
    assert.doesNotThrow(() => loadConfig(env), `${name}: its environment is a valid configuration`)
  }
  const api = environment(services.api ?? {})
  const streaming = environment(services.streaming ?? {})
  const producer = environment(services.producer ?? {})
  assert.ok(api.DATABASE_URL && api.REDIS_URL, 'api has DATABASE_URL and REDIS_URL')
  assert.ok(streaming.KAFKA_BROKERS && streaming.DATABASE_URL && streaming.REDIS_URL, 'streaming has all three services')
  assert.ok(producer.KAFKA_BROKERS, 'producer has KAFKA_BROKERS')
})

test('service URLs point at services of the compose file', () => {
  for (const [name, service] of Object.entries(services)) {
    const env = environment(service)
    for (const broker of (env.KAFKA_BROKERS ?? '').split(',').filter((b) => b !== '')) {
      assert.ok(services[broker.split(':')[0] ?? ''], `${name}: KAFKA_BROKERS host ${broker}`)
    }
    for (const key of ['DATABASE_URL', 'REDIS_URL']) {
      if (env[key] !== undefined) assert.ok(services[new URL(env[key]).hostname], `${name}: ${key} host`)
    }
  }
})

test('the API is published on port 3000', () => {
  const ports = (services.api?.ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`))
  assert.ok(
    ports.some((p) => /^(\d+\.\d+\.\d+\.\d+:)?3000:3000$/.test(p)),
    `api ports ${ports.join(', ')}`
  )
  assert.equal(environment(services.api ?? {}).PORT ?? '3000', '3000')
})

test('Kafka is the official apache/kafka image, 4.x pinned, in KRaft mode (no ZooKeeper)', () => {
  const kafka = services.kafka
  assert.ok(kafka)
  assert.match(kafka.image ?? '', /^apache\/kafka:4\.\d+\.\d+$/)
  assert.match(environment(kafka).KAFKA_PROCESS_ROLES ?? '', /controller/)
  assert.ok(!Object.keys(services).some((s) => /zookeeper/i.test(s)), 'no ZooKeeper service')
  for (const [name, service] of Object.entries(services)) {
    if (service.build === undefined) assert.match(service.image ?? '', /:[\w.-]+$/, `${name} pins an image tag`)
    assert.doesNotMatch(service.image ?? '', /:latest$/, `${name} is not :latest`)
  }
})

test('a one-shot service creates the topic of readings with several partitions', () => {
  const creators = Object.values(services).filter((s) => /kafka-topics\.sh[\s\S]*--create/.test(words(s.command) + words(s.entrypoint)))
  assert.equal(creators.length, 1)
  const creator = creators[0] as Service
  const script = words(creator.command)
  assert.ok(isOneShot(creator), 'the topic creator runs once')
  assert.match(creator.image ?? '', /^apache\/kafka:/)
  assert.match(script, /sensor-data/)
  const partitions = Number(/--partitions\s+(\d+)/.exec(script)?.[1])
  assert.ok(partitions > 1, `several partitions, got ${partitions}`)
  assert.match(script, /--if-not-exists/, 'safe to run again')
})

test('every long-running service has a health check (the sensorstream image has the Dockerfile HEALTHCHECK)', () => {
  for (const [name, service] of Object.entries(services)) {
    if (isOneShot(service)) continue
    assert.notEqual(service.healthcheck?.disable, true, `${name}: health check not disabled`)
    if (fromOurImage(service)) assert.match(dockerfile, /^HEALTHCHECK .*CMD/m, `${name}: Dockerfile HEALTHCHECK`)
    else assert.ok(service.healthcheck?.test, `${name}: healthcheck.test`)
  }
})

test('depends_on waits for health or completion, never for a mere start', () => {
  let edges = 0
  for (const [name, service] of Object.entries(services)) {
    const deps = service.depends_on ?? {}
    assert.ok(!Array.isArray(deps), `${name}: depends_on with conditions`)
    for (const [target, { condition }] of Object.entries(deps)) {
      const dependency = services[target]
      assert.ok(dependency, `${name} depends on a service that exists: ${target}`)
      const expected = isOneShot(dependency) ? 'service_completed_successfully' : 'service_healthy'
      assert.equal(condition, expected, `${name} → ${target}`)
      edges++
    }
  }
  assert.ok(edges >= 6)
  const needs = (name: string, target: string): boolean => Object.keys(services[name]?.depends_on ?? {}).includes(target)
  assert.ok(needs('producer', 'kafka-init'), 'producer waits for the topic')
  assert.ok(needs('streaming', 'kafka-init') && needs('streaming', 'postgres') && needs('streaming', 'redis'))
  assert.ok(needs('api', 'postgres') && needs('api', 'redis'))
})

test('data lives in named volumes, declared at the top level', () => {
  const declared = Object.keys(compose.volumes ?? {})
  for (const name of ['kafka', 'postgres', 'redis']) {
    const mounts = (services[name]?.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source))
    assert.ok(mounts.length > 0, `${name} keeps its data in a volume`)
    for (const source of mounts) assert.ok(source !== undefined && declared.includes(source), `${name}: ${source} is a declared named volume`)
  }
})

/** The Dockerfile as stages: each FROM starts one, with its instructions. */
function stages(text: string): { from: string; lines: string[] }[] {
  const joined = text.replace(/\\\n/g, ' ')
  const result: { from: string; lines: string[] }[] = []
  for (const line of joined.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue
    if (/^FROM\s/i.test(line)) result.push({ from: line, lines: [] })
    else result.at(-1)?.lines.push(line)
  }
  return result
}

test('Dockerfile: multi-stage, slim runtime with production dependencies only, non-root, health check, entry point', () => {
  const all = stages(dockerfile)
  assert.ok(all.length >= 2, 'multi-stage')
  const runtime = all.at(-1)
  assert.ok(runtime)
  assert.match(dockerfile, /ARG NODE_IMAGE=node:24-(slim|alpine)/)
  assert.ok(
    runtime.lines.some((l) => /^RUN .*npm ci --omit=dev/.test(l)),
    'runtime installs with npm ci --omit=dev'
  )
  assert.ok(
    runtime.lines.some((l) => /^COPY --from=build \/app\/dist/.test(l)),
    'runtime takes dist/ from the build stage'
  )
  const user = runtime.lines.filter((l) => /^USER /.test(l)).at(-1)
  assert.ok(user !== undefined && !/^USER (root|0)(:|$)/.test(user), `non-root USER, got ${user}`)
  assert.ok(runtime.lines.some((l) => /^HEALTHCHECK /.test(l)))
  assert.ok(runtime.lines.includes('ENTRYPOINT ["node", "dist/cli.js"]'))
  assert.ok(runtime.lines.includes('CMD ["api"]'))
  assert.ok(existsSync(root('docker/healthcheck.mjs')), 'the health check script exists')
})

test('Dockerfile: the build stage installs and builds as .ci/run does', () => {
  const ci = read('.ci/run')
  const build = stages(dockerfile)[0]
  assert.ok(build)
  const runs = build.lines.filter((l) => l.startsWith('RUN ')).map((l) => l.slice(4))
  for (const step of ['npm ci', 'npm run build']) {
    assert.ok(new RegExp(`^\\s*${step}\\b`, 'm').test(ci), `.ci/run runs ${step}`)
    assert.ok(
      runs.some((r) => r.startsWith(step)),
      `the build stage runs ${step}`
    )
  }
  assert.ok(runs.findIndex((r) => r.startsWith('npm ci')) < runs.findIndex((r) => r.startsWith('npm run build')), 'npm ci before the build')
  const ciFlags = /^\s*npm ci(.*)$/m.exec(ci)?.[1]?.trim()
  assert.ok(
    runs.some((r) => r === `npm ci ${ciFlags}`.trim()),
    `same npm ci flags as .ci/run (${ciFlags})`
  )
  // The build must find what it compiles and the migrations it copies; .dockerignore must not hide them.
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'docker']) {
    assert.ok(!ignored.includes(needed), `${needed} reaches the build`)
  }
  for (const heavy of ['node_modules', 'dist', 'data', '.git']) assert.ok(ignored.includes(heavy), `${heavy} is ignored`)
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> }
  assert.match(pkg.scripts.build ?? '', /migrations/, 'npm run build copies the SQL migrations into dist/')
})
