// Without Chromium the browser tests fail, naming the command that installs it: they never skip.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { launchChromium } from './chromium.ts'

test('a missing Chromium is a failure that says `apt-get install -y chromium`', async () => {
  await assert.rejects(launchChromium('/nonexistent/chromium'), /apt-get install -y chromium/)
})
