// The in-process LatestValues against the same contract as Redis.
import { latestContract } from '../../../test/contracts/latest.contract.ts'
import { MemoryLatestValues } from './memory.ts'

latestContract('memory', {
  open: async () => {
    const latest = new MemoryLatestValues()
    await latest.connect()
    return latest
  }
})
