// The Node.js this project needs, from package.json `engines.node` (`>=MAJOR.MINOR`). The CLI checks
// it first: on an older Node a later import fails with an error that does not say why.
// scripts/check-node.mjs does the same before `npm start`, in plain JavaScript for any Node.

/** Why `version` (e.g. `20.20.2`) cannot run sensorstream, or undefined when it can. */
export function nodeVersionProblem(engines: string, version: string): string | undefined {
  const wanted = /^>=\s*(\d+)\.(\d+)/.exec(engines)
  const have = /^v?(\d+)\.(\d+)/.exec(version)
  if (wanted === null || have === null) return undefined
  const [major, minor] = [Number(have[1]), Number(have[2])]
  const [needMajor, needMinor] = [Number(wanted[1]), Number(wanted[2])]
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined
  return `sensorstream needs Node.js ≥ ${needMajor}.${needMinor} (this is v${version.replace(/^v/, '')}); install Node 24 LTS`
}
