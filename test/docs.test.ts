// The README and docs/ are read in any clone: every relative link and every file they name in
// backquotes with a path must exist inside the repository.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

const root = fileURLToPath(new URL('..', import.meta.url))
const documents = [
  'README.md',
  ...readdirSync(resolve(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
]

/** Relative targets of markdown links `[text](target)` and of backquoted paths that climb out (`../x`). */
function targets(text: string): string[] {
  const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string).filter((t) => !/^[a-z]+:/i.test(t) && !t.startsWith('#'))
  const climbing = [...text.matchAll(/`(\.\.\/[^`\s]+)`/g)].map((m) => m[1] as string)
  return [...links, ...climbing].map((t) => t.split('#')[0] as string)
}

test('docs/architecture.md exists: the architecture of record lives in the repository', () => {
  assert.ok(existsSync(resolve(root, 'docs/architecture.md')))
})

for (const doc of documents) {
  test(`${doc}: every relative link points to a file inside the repository`, () => {
    const text = readFileSync(resolve(root, doc), 'utf8')
    for (const target of targets(text)) {
      const path = resolve(dirname(resolve(root, doc)), target)
      const inside = relative(root, path)
      assert.ok(!inside.startsWith('..'), `${doc} links ${target}, outside the repository`)
      assert.ok(existsSync(path), `${doc} links ${target}, which does not exist`)
    }
  })
}
