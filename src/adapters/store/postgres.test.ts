// PostgresReadingStore against the ReadingStore contract, on throwaway PostgreSQL servers.
import { after, before } from 'node:test'
import { startPostgres, type PostgresServer } from '../../local/postgres.ts'
import { createLogger } from '../../platform/logger.ts'
import { storeContract } from '../../../test/contracts/store.contract.ts'
import { PostgresReadingStore } from './postgres.ts'

const logger = createLogger('silent')
let server: PostgresServer
let n = 0
const owned: PostgresServer[] = []
before(async () => {
  server = await startPostgres()
  owned.push(server)
})
after(async () => {
  for (const s of owned) await s.dispose()
})

async function open(url: string): Promise<PostgresReadingStore> {
  const store = new PostgresReadingStore({ url, poolMax: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 2_000, logger })
  await store.connect()
  return store
}

storeContract('postgres', {
  freshDatabase: async () => {
    const url = await server.createDatabase(`store_${process.pid}_${++n}`)
    return { open: () => open(url) }
  },
  unreachable: () => {
    return new PostgresReadingStore({ url: 'postgres://postgres@127.0.0.1:1/none', poolMax: 1, statementTimeoutMs: 1_000, connectTimeoutMs: 2_000, logger })
  },
  ownServer: async () => {
    const own = await startPostgres()
    owned.push(own)
    return { open: () => open(own.url), stop: () => own.stop(), start: () => own.start() }
  }
})
