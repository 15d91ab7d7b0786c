// Debian's Chromium driven by playwright-core, with a fresh profile per launch. A machine without it
// fails the browser tests with the command that installs it: they never skip.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export interface Browser {
  readonly context: BrowserContext
  close(): Promise<void>
}

export async function launchChromium(executablePath = CHROMIUM): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: the dashboard's browser tests need Debian's Chromium (apt-get update && apt-get install -y chromium)`)
  }
  const profile = mkdtempSync(join(tmpdir(), 'sensorstream-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    viewport: { width: 1440, height: 900 }
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
