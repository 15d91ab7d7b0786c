// Preloaded with --import by cli.test.ts: every TCP connect to port 1 throws at once, as Node does for
// a port out of range. @platformatic/kafka then never settles the connect it started (its pool keeps
// the failed connection and waits on it): the event loop runs dry under a pending await.
import { createRequire, syncBuiltinESMExports } from 'node:module'

const net = createRequire(import.meta.url)('node:net') as typeof import('node:net')
const original = net.createConnection
net.createConnection = ((...args: Parameters<typeof original>) => {
  const options = args[0] as { port?: unknown }
  if (typeof options === 'object' && Number(options.port) === 1)
    throw new RangeError('Port should be >= 0 and < 65536. Received type number (1) (test fixture).')
  return original(...args)
}) as typeof original
syncBuiltinESMExports()
