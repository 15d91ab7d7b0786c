// Too old a Node.js is said in one line, by the CLI and by `npm start`'s preflight alike.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { nodeVersionProblem as preflight } from '../../scripts/check-node.mjs'
import { nodeVersionProblem } from './node-version.ts'

const PREFLIGHT = fileURLToPath(new URL('../../scripts/check-node.mjs', import.meta.url))
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string }; scripts: { start: string } }

test('the CLI and the preflight agree, on the minimum of package.json', () => {
  assert.equal(PACKAGE.engines.node, '>=22.22')
  const cases: [string, boolean][] = [
    ['20.20.2', false],
    ['v22.21.9', false],
    ['22.22.0', true],
    ['22.30.1', true],
    ['23.0.0', true],
    ['24.11.1', true],
    ['18.0.0', false]
  ]
  for (const [version, ok] of cases) {
    const problem = nodeVersionProblem(PACKAGE.engines.node, version)
    assert.equal(problem === undefined, ok, version)
    assert.equal(preflight(PACKAGE.engines.node, version), problem, version)
  }
  assert.equal(nodeVersionProblem('>=22.22', 'v20.20.2'), 'sensorstream needs Node.js ≥ 22.22 (this is v20.20.2); install Node 24 LTS')
})

test('npm start runs the preflight first, then becomes the platform (exec: a signal to npm reaches it); on this Node it passes', () => {
  assert.match(PACKAGE.scripts.start, /^node scripts\/check-node\.mjs && exec node src\/cli\.ts all$/)
  execFileSync(process.execPath, [PREFLIGHT])
})

test("the preflight on a real old Node (the machine's /usr/bin/node when older) exits 2 with the message", (t) => {
  const old = '/usr/bin/node'
  const version = existsSync(old) ? spawnSync(old, ['--version'], { encoding: 'utf8' }).stdout.trim() : ''
  if (nodeVersionProblem(PACKAGE.engines.node, version || '99.0.0') === undefined) {
    t.skip(`no Node.js older than ${PACKAGE.engines.node} at ${old} (${version || 'none'}); the cases above cover the check`)
    return
  }
  const ran = spawnSync(old, [PREFLIGHT], { encoding: 'utf8' })
  assert.equal(ran.status, 2)
  assert.equal(ran.stderr, `sensorstream needs Node.js ≥ 22.22 (this is ${version}); install Node 24 LTS\n`)
})
