// The dashboard: GET / is the page, /dashboard/* its assets (plain ES modules, no build step, so
// `npm start` from the sources serves it as the built API does), /dashboard/vendor/* uPlot from
// node_modules. Same origin only, nothing from a CDN. Assets are read once and kept in memory. They
// need no key even with API_READ_AUTH=true (auth.ts), so that the page can load and ask for one.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../platform/errors.ts'

const here = dirname(fileURLToPath(import.meta.url))
const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'))

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/** Every file the page may ask for, by URL path. */
const FILES: Record<string, string> = {
  '/': join(here, '../dashboard/index.html'),
  '/dashboard/app.js': join(here, '../dashboard/app.js'),
  '/dashboard/sensor-list.js': join(here, '../dashboard/sensor-list.js'),
  '/dashboard/chart.js': join(here, '../dashboard/chart.js'),
  '/dashboard/alerts.js': join(here, '../dashboard/alerts.js'),
  '/dashboard/api.js': join(here, '../dashboard/api.js'),
  '/dashboard/stream.js': join(here, '../dashboard/stream.js'),
  '/dashboard/series.js': join(here, '../dashboard/series.js'),
  '/dashboard/style.css': join(here, '../dashboard/style.css'),
  '/dashboard/icon.svg': join(here, '../dashboard/icon.svg'),
  '/dashboard/vendor/uPlot.esm.js': join(uplotDist, 'uPlot.esm.js'),
  '/dashboard/vendor/uPlot.min.css': join(uplotDist, 'uPlot.min.css')
}

export function dashboardRoutes() {
  const cache = new Map<string, Buffer>()
  const load = (path: string): Buffer => {
    let body = cache.get(path)
    if (body === undefined) {
      body = readFileSync(FILES[path] as string)
      cache.set(path, body)
    }
    return body
  }
  return async function plugin(app: FastifyInstance): Promise<void> {
    for (const path of Object.keys(FILES)) {
      const type = TYPES[path === '/' ? '.html' : path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream'
      app.get(path, { schema: { hide: true } }, async (_request, reply) => {
        let body: Buffer
        try {
          body = load(path)
        } catch (err) {
          throw new AppError('NOT_FOUND', `dashboard file missing: ${path}`, { cause: err })
        }
        // The page always asks for the newest assets; they are small and served from memory.
        return reply.type(type).header('cache-control', 'no-cache').send(body)
      })
    }
  }
}
