// `npm run test:unit`: the tests that need no service (no Kafka, Postgres, Redis, browser or child
// CLI), in seconds. `npm run test:coverage` runs the same files with node's coverage and fails below
// the floor. A test file belongs here when it starts nothing: the list is explicit so that a test
// that starts a service never slips in, and a listed file that no longer exists is an error.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const UNIT_TESTS = [
  'src/adapters/bus/checkpointer.test.ts',
  'src/adapters/bus/kafka-batcher.test.ts',
  'src/adapters/bus/kafka-errors.test.ts',
  'src/adapters/bus/kafka-partitioner.test.ts',
  'src/adapters/bus/memory.test.ts',
  'src/adapters/feed/memory-live-feed.test.ts',
  'src/adapters/cache/memory.test.ts',
  'src/adapters/redis/redis-errors.test.ts',
  'src/adapters/store/binary-arrays.test.ts',
  'src/domain/alert.test.ts',
  'src/domain/mqtt-topic.test.ts',
  'src/domain/reading.test.ts',
  'src/domain/sensor-pattern.test.ts',
  'src/domain/wire.test.ts',
  'src/adapters/embedded/environment.test.ts',
  'src/adapters/embedded/free-port.test.ts',
  'src/platform/config-mqtt.test.ts',
  'src/platform/config.test.ts',
  'src/platform/listen.test.ts',
  'src/platform/logger.test.ts',
  'src/platform/node-version.test.ts',
  'src/platform/retry.test.ts',
  'src/services/api/live/session.test.ts',
  'src/services/api/series.test.ts',
  'src/services/connect.test.ts',
  'src/services/dlq/args.test.ts',
  'src/services/dlq/commands.test.ts',
  'src/services/in-worker.test.ts',
  'src/services/mqtt/bridge.test.ts',
  'src/services/producer/simulator.test.ts',
  'src/services/replay/run.test.ts',
  'src/services/streaming/alert-evaluator.test.ts',
  'src/services/streaming/ingest-alerts.test.ts',
  'src/services/streaming/ingest.test.ts',
  'src/services/streaming/latest-cache.test.ts',
  'src/services/streaming/run.test.ts',
  'src/services/streaming/status-report.test.ts',
  'test/browser/chromium.test.ts',
  'test/compose.test.ts',
  'test/docs.test.ts',
  'test/package.test.ts'
]

/**
 * The line-coverage floor of `npm run test:coverage`, over the files under src/ that the unit tests
 * load (test files excluded; node reports only loaded files): a few points below what they cover
 * today (the README's test section has the figure).
 */
export const COVERAGE_LINES_FLOOR = 90

function main(): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const missing = UNIT_TESTS.filter((file) => !existsSync(`${root}/${file}`))
  if (missing.length > 0) {
    console.error(`scripts/test-unit.ts lists test files that do not exist: ${missing.join(', ')}`)
    process.exit(2)
  }
  const coverage = process.argv.includes('--coverage')
  const flags = coverage
    ? [
        '--experimental-test-coverage',
        `--test-coverage-lines=${COVERAGE_LINES_FLOOR}`,
        '--test-coverage-include=src/**/*.ts',
        '--test-coverage-exclude=src/**/*.test.ts',
        '--test-coverage-exclude=src/**/*.fixtures/**'
      ]
    : []
  const run = spawnSync(process.execPath, ['--test', '--test-timeout=60000', ...flags, ...UNIT_TESTS], { cwd: root, stdio: 'inherit' })
  process.exit(run.status ?? 1)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main()
