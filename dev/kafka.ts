// A single-node Apache Kafka (KRaft, combined broker + controller) from the jars on Maven Central,
// for tests and `npm run services:up`. See ../../../shared/KAFKA.md for the recipe.
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { freePort, LOOPBACK } from '../src/adapters/embedded/free-port.ts'
import { clusterId, formatNode, isPortClash, launchNode, nodeLogFile, writeNodeFiles, type KafkaNodeSpec, type NodePorts } from './kafka-node.ts'
import { makeTempDir, removeTempDir, serviceControl, type ServiceControl, type ServiceProcess } from '../src/adapters/embedded/processes.ts'

export { ensureKafkaJars, KAFKA_VERSION } from './kafka-jars.ts'

export interface KafkaOptions {
  /** client port [a free one] */
  readonly port?: number
  /** KRaft controller port [a free one] */
  readonly controllerPort?: number
  /** [a fresh folder under the OS temp dir]; when given and not persistent it must be empty or absent */
  readonly dataDir?: string
  /** JVM heap [512] */
  readonly heapMb?: number
  /** `num.partitions` of auto-created topics [1] */
  readonly partitions?: number
  /** reuse dataDir when already formatted, and keep it [false] */
  readonly persistent?: boolean
  /** outlive this process (`services:up`); needs a persistent dataDir [false] */
  readonly detached?: boolean
  /** [60000] */
  readonly startTimeoutMs?: number
}

/** stop() is SIGTERM (the broker's clean shutdown); dispose() removes the data dir unless persistent. */
export interface KafkaServer extends ServiceControl {
  /** `127.0.0.1:port`, for KAFKA_BROKERS */
  readonly brokers: string
  readonly port: number
  readonly controllerPort: number
  readonly dataDir: string
  readonly logFile: string
}

function isEmptyOrAbsent(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0
}

export async function startKafka(options: KafkaOptions = {}): Promise<KafkaServer> {
  const persistent = options.persistent === true
  const detached = options.detached === true
  if (detached && (!persistent || options.dataDir === undefined)) throw new Error('startKafka: detached needs a persistent dataDir')
  let dataDir: string
  let temp = false
  if (options.dataDir === undefined) {
    dataDir = makeTempDir('kafka')
    temp = true
  } else {
    dataDir = resolve(options.dataDir)
    if (!persistent && !isEmptyOrAbsent(dataDir)) throw new Error(`startKafka: ${dataDir} is not empty (pass persistent: true to reuse it)`)
    mkdirSync(dataDir, { recursive: true })
  }
  const port = options.port ?? (await freePort())
  let spec: KafkaNodeSpec = {
    nodeId: 1,
    voters: [{ port, controllerPort: options.controllerPort ?? (await freePort([port])) }],
    dir: dataDir,
    partitions: options.partitions ?? 1,
    replication: 1,
    heapMb: options.heapMb ?? 512,
    detached,
    startTimeoutMs: options.startTimeoutMs ?? 60_000
  }
  writeNodeFiles(spec)

  // Ports picked here can be taken by someone else before the broker binds them: pick again.
  let first: ServiceProcess
  for (let attempt = 1; ; attempt++) {
    try {
      await formatNode(spec, clusterId())
      first = await launchNode(spec)
      break
    } catch (err) {
      if (!isPortClash(err) || attempt >= 3 || (options.port !== undefined && options.controllerPort !== undefined)) {
        if (temp) removeTempDir(dataDir)
        throw err
      }
      const old = spec.voters[0] as NodePorts
      const newPort = options.port ?? (await freePort([old.controllerPort]))
      const newControllerPort = options.controllerPort ?? (await freePort([newPort]))
      spec = { ...spec, voters: [{ port: newPort, controllerPort: newControllerPort }] }
      writeNodeFiles(spec)
    }
  }

  const ports = spec.voters[0] as NodePorts
  const launch = (): Promise<ServiceProcess> => launchNode(spec)
  const control = serviceControl({ first, launch, cleanup: () => (persistent ? undefined : removeTempDir(dataDir)) })
  return Object.assign(control, { brokers: `${LOOPBACK}:${ports.port}`, ...ports, dataDir, logFile: nodeLogFile(dataDir) })
}
