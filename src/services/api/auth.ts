// Bearer keys: when API_KEYS is set, writes need `Authorization: Bearer <key>` (401 without a key,
// 403 for a wrong one); reads too when API_READ_AUTH=true. Probes, the API description and the
// dashboard's static files (GET /, /dashboard/*: the page that asks for a key must load without one)
// stay open; everything the dashboard reads needs the key.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/openapi.json'])

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

export function installAuth(app: FastifyInstance, config: Config['api']): void {
  if (config.apiKeys.length === 0) return
  const keys = config.apiKeys.map(digest)
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.method === 'OPTIONS') return
    if (READ_METHODS.has(request.method) && !config.readAuth) return
    const path = request.url.split('?')[0] ?? '/'
    if (OPEN_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')) return
    if (READ_METHODS.has(request.method) && (path === '/' || path.startsWith('/dashboard/'))) return
    const header = request.headers.authorization
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (match === null) throw new AppError('UNAUTHORIZED', 'this request needs an API key: Authorization: Bearer <key>')
    const given = digest(match[1] as string)
    // Compare against every key in constant time, so timing tells nothing about which matched.
    let ok = false
    for (const key of keys) ok = timingSafeEqual(given, key) || ok
    if (!ok) throw new AppError('FORBIDDEN', 'the API key is not valid')
  })
}
