// A throwaway KRaft cluster of N combined broker + controller nodes on loopback ports, for tests that
// kill brokers: replication factor N (3 by default) and `min.insync.replicas` N − 1 for every
// internal and auto-created topic. Combined nodes keep the JVM count at N on a small machine; each
// node is stopped (SIGTERM), killed (SIGKILL) and started again on its own, with its data.
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { Admin } from '@platformatic/kafka'
import { freePort, LOOPBACK } from '../src/adapters/embedded/free-port.ts'
import { clusterId, formatNode, isPortClash, launchNode, nodeLogDir, nodeLogFile, writeNodeFiles, type KafkaNodeSpec, type NodePorts } from './kafka-node.ts'
import { makeTempDir, removeTempDir, serviceControl, terminate, type ServiceControl, type ServiceProcess } from '../src/adapters/embedded/processes.ts'

export interface KafkaClusterOptions {
  /** nodes, each a broker and a KRaft voter [3] */
  readonly brokers?: number
  /** JVM heap of each node [256] */
  readonly heapMb?: number
  /** `num.partitions` of auto-created topics [1] */
  readonly partitions?: number
  /** per node start [120000: three JVMs at once on a small, busy machine] */
  readonly startTimeoutMs?: number
  /**
   * `broker.session.timeout.ms`: how long a killed broker still leads its partitions [3000, quick
   * failovers for tests; Kafka's own default is 9000]
   */
  readonly brokerSessionTimeoutMs?: number
}

/** One node: stop() is SIGTERM, kill() SIGKILL, start() brings it back with the same ports and data. */
export interface KafkaNode extends ServiceControl {
  readonly nodeId: number
  /** `127.0.0.1:port` of this node alone */
  readonly brokers: string
  readonly port: number
  readonly controllerPort: number
  readonly logFile: string
}

export interface KafkaCluster {
  /** every node's `127.0.0.1:port`, comma-separated, for KAFKA_BROKERS */
  readonly brokers: string
  readonly bootstrap: readonly string[]
  readonly nodes: readonly KafkaNode[]
  readonly dataDir: string
  node(nodeId: number): KafkaNode
  /** the node id of the KRaft leader (the active controller), once a running node leads */
  activeController(timeoutMs?: number): Promise<number>
  /** the node id leading `topic`'s `partition`, once it is a running node */
  partitionLeader(topic: string, partition: number, timeoutMs?: number): Promise<number>
  /** starts every node that is not running */
  start(): Promise<void>
  stop(): Promise<void>
  /** stops every node and removes the data */
  dispose(): Promise<void>
}

async function pickPorts(n: number): Promise<NodePorts[]> {
  const taken: number[] = []
  const voters: NodePorts[] = []
  for (let i = 0; i < n; i++) {
    const port = await freePort(taken)
    const controllerPort = await freePort([...taken, port])
    taken.push(port, controllerPort)
    voters.push({ port, controllerPort })
  }
  return voters
}

export async function startKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const count = options.brokers ?? 3
  if (!Number.isInteger(count) || count < 1) throw new Error('startKafkaCluster: brokers must be a positive integer')
  const dataDir = makeTempDir('kafkacluster')
  const id = clusterId()
  let voters = await pickPorts(count)
  const specs = (): KafkaNodeSpec[] =>
    voters.map((_, i) => ({
      nodeId: i + 1,
      voters,
      dir: join(dataDir, `node-${i + 1}`),
      partitions: options.partitions ?? 1,
      replication: count,
      heapMb: options.heapMb ?? 256,
      ...(options.brokerSessionTimeoutMs === undefined ? {} : { brokerSessionTimeoutMs: options.brokerSessionTimeoutMs }),
      detached: false,
      startTimeoutMs: options.startTimeoutMs ?? 120_000
    }))

  // The nodes start together: a broker is ready only once a majority of the voters elected a leader.
  // A port taken meanwhile by someone else: every node gets new ports (the voters list names them all).
  let first: ServiceProcess[] = []
  for (let attempt = 1; ; attempt++) {
    const all = specs()
    for (const spec of all) {
      mkdirSync(spec.dir, { recursive: true })
      writeNodeFiles(spec)
    }
    await Promise.all(all.map((spec) => formatNode(spec, id)))
    const launched = await Promise.allSettled(all.map((spec) => launchNode(spec)))
    first = launched.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const failed = launched.find((r) => r.status === 'rejected')
    if (failed === undefined) break
    await Promise.all(first.map((proc) => terminate(proc, 'SIGKILL', 0)))
    if (!isPortClash(failed.reason) || attempt >= 3) {
      removeTempDir(dataDir)
      throw failed.reason
    }
    voters = await pickPorts(count)
  }

  const finalSpecs = specs()
  const nodes: KafkaNode[] = finalSpecs.map((spec, i) => {
    const ports = voters[i] as NodePorts
    const control = serviceControl({ first: first[i] as ServiceProcess, launch: () => launchNode(spec) })
    return Object.assign(control, { nodeId: spec.nodeId, brokers: `${LOOPBACK}:${ports.port}`, ...ports, logFile: nodeLogFile(spec.dir) })
  })
  const bootstrap = nodes.map((n) => n.brokers)
  const node = (nodeId: number): KafkaNode => {
    const found = nodes[nodeId - 1]
    if (found === undefined) throw new Error(`no Kafka node ${nodeId} (1…${count})`)
    return found
  }
  const running = (nodeId: number): boolean => nodes[nodeId - 1]?.pid !== undefined
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()))
  }

  return {
    brokers: bootstrap.join(','),
    bootstrap,
    nodes,
    dataDir,
    node,
    // Each voter records the leader of the newest epoch it knows in quorum-state; the running node
    // named by the highest epoch is the active controller.
    activeController: (timeoutMs = 30_000) =>
      poll(`an active controller among running nodes`, timeoutMs, () => {
        let best: { epoch: number; leader: number } | undefined
        for (const spec of finalSpecs) {
          if (!running(spec.nodeId)) continue
          const state = readQuorumState(spec)
          if (state !== undefined && (best === undefined || state.epoch > best.epoch)) best = state
        }
        return best !== undefined && running(best.leader) ? best.leader : undefined
      }),
    partitionLeader: (topic, partition, timeoutMs = 30_000) => {
      const admin = new Admin({ clientId: 'kafka-cluster', bootstrapBrokers: bootstrap.filter((_, i) => running(i + 1)), retries: 3, retryDelay: 200 })
      return poll(`a running leader of ${topic}-${partition}`, timeoutMs, async () => {
        const metadata = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined)
        const leader = metadata?.topics.get(topic)?.partitions[partition]?.leader
        return leader !== undefined && leader >= 0 && running(leader) ? leader : undefined
      }).finally(() => admin.close())
    },
    start: async () => {
      await Promise.all(nodes.map((n) => n.start()))
    },
    stop,
    dispose: async () => {
      await stop()
      removeTempDir(dataDir)
    }
  }
}

function readQuorumState(spec: KafkaNodeSpec): { epoch: number; leader: number } | undefined {
  try {
    const state = JSON.parse(readFileSync(join(nodeLogDir(spec.dir), '__cluster_metadata-0', 'quorum-state'), 'utf8')) as {
      leaderId?: number
      leaderEpoch?: number
    }
    if (typeof state.leaderId !== 'number' || state.leaderId < 0 || typeof state.leaderEpoch !== 'number') return undefined
    return { epoch: state.leaderEpoch, leader: state.leaderId }
  } catch {
    return undefined // not written yet, or being replaced
  }
}

async function poll<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`)
    await delay(200)
  }
}
