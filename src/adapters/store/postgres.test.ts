// PostgresReadingStore against the ReadingStore contract, on throwaway PostgreSQL servers (harness).
import { freshDatabase, ownPostgres } from '../../../test/harness/index.ts'
import { storeContract } from '../../../test/contracts/store.contract.ts'
import { createLogger } from '../../platform/logger.ts'
import { PostgresReadingStore } from './postgres.ts'

const logger = createLogger('silent')

function store(url: string): PostgresReadingStore {
  return new PostgresReadingStore({ url, poolMax: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 2_000, logger })
}

async function open(url: string): Promise<PostgresReadingStore> {
  const s = store(url)
  await s.connect()
  return s
}

storeContract('postgres', {
  freshDatabase: async () => {
    const url = await freshDatabase('store')
    return { open: () => open(url) }
  },
  // port 1 on loopback: nothing listens there, the connection is refused at once
  unreachable: () => store('postgres://postgres@127.0.0.1:1/none'),
  ownServer: async () => {
    const server = await ownPostgres()
    return { open: () => open(server.url), stop: () => server.stop(), start: () => server.start() }
  }
})
