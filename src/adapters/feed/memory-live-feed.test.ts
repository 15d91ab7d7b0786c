// The in-process LiveFeed against the same contract as Redis pub/sub.
import { liveFeedContract } from '../../../test/contracts/live-feed.contract.ts'
import { MemoryLiveFeed } from './memory-live-feed.ts'

liveFeedContract('memory', {
  open: async () => {
    const feed = new MemoryLiveFeed()
    await feed.connect()
    return feed
  }
})
