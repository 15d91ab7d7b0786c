// `npm start` runs this first: on a Node.js older than package.json `engines.node`, say so in one
// line and exit 2, where `node src/cli.ts` would fail with ERR_UNKNOWN_FILE_EXTENSION ".ts".
// Plain JavaScript with node: imports only, so that it runs on any Node; the CLI does the
// same check in src/platform/node-version.ts.
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { URL, pathToFileURL } from 'node:url'

/** Why `version` (e.g. `20.20.2`) cannot run sensorstream, or undefined when it can. */
export function nodeVersionProblem(engines, version) {
  const wanted = /^>=\s*(\d+)\.(\d+)/.exec(engines)
  const have = /^v?(\d+)\.(\d+)/.exec(version)
  if (wanted === null || have === null) return undefined
  const [major, minor] = [Number(have[1]), Number(have[2])]
  const [needMajor, needMinor] = [Number(wanted[1]), Number(wanted[2])]
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined
  return `sensorstream needs Node.js ≥ ${needMajor}.${needMinor} (this is v${version.replace(/^v/, '')}); install Node 24 LTS`
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const problem = nodeVersionProblem(engines.node, process.versions.node)
  if (problem !== undefined) {
    process.stderr.write(`${problem}\n`)
    process.exit(2)
  }
}
