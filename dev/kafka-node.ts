// One KRaft node (combined broker + controller) of the local Kafka launchers: its properties, the
// one-time format of its data dir and its launch. Shared by startKafka and startKafkaCluster.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireExecutable } from '../src/adapters/embedded/environment.ts'
import { canConnect, LOOPBACK } from '../src/adapters/embedded/free-port.ts'
import { ensureKafkaJars, JAVA_INSTALL, KAFKA_VERSION } from './kafka-jars.ts'
import { spawnService, terminate, waitUntil, type ServiceProcess } from '../src/adapters/embedded/processes.ts'

const READY_LINE = 'Kafka Server started'
const run = promisify(execFile)

let javaChecked: Promise<string> | undefined
/** The java binary, checked once to be Java 17 or newer (Kafka 4 needs it). */
function requireJava(): Promise<string> {
  javaChecked ??= (async () => {
    const java = requireExecutable('java', JAVA_INSTALL)
    const { stderr } = await run(java, ['-version'])
    const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr)
    const major = match === null ? 0 : Number(match[1] === '1' ? match[2] : match[1])
    if (major < 17) throw new Error(`Kafka ${KAFKA_VERSION} needs Java 17 or newer, found: ${stderr.split('\n')[0]}. Install it with: ${JAVA_INSTALL}`)
    return java
  })()
  return javaChecked
}

/** 16 random bytes in base64url, as Kafka's own `random-uuid` (never starting with `-`). */
export function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

export interface NodePorts {
  readonly port: number
  readonly controllerPort: number
}

export interface KafkaNodeSpec {
  readonly nodeId: number
  /** every voter of the quorum, this node included, by node id (1, 2, …) */
  readonly voters: readonly NodePorts[]
  /** the node's folder: properties, log file and `data/` */
  readonly dir: string
  /** `num.partitions` of auto-created topics */
  readonly partitions: number
  /** replication factor of every internal and auto-created topic; `min.insync.replicas` is one less (at least 1) */
  readonly replication: number
  readonly heapMb: number
  /** how long the controller waits for a silent broker before it moves its leaderships [3000] */
  readonly brokerSessionTimeoutMs?: number
  readonly detached: boolean
  readonly startTimeoutMs: number
}

export const nodeLogDir = (dir: string): string => join(dir, 'data')
export const nodeLogFile = (dir: string): string => join(dir, 'kafka.log')

function serverProperties(spec: KafkaNodeSpec): string {
  const own = spec.voters[spec.nodeId - 1] as NodePorts
  const voters = spec.voters.map((v, i) => `${i + 1}@${LOOPBACK}:${v.controllerPort}`).join(',')
  const rf = spec.replication
  const minIsr = Math.max(1, rf - 1)
  return `process.roles=broker,controller
node.id=${spec.nodeId}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://${LOOPBACK}:${own.port},CONTROLLER://${LOOPBACK}:${own.controllerPort}
advertised.listeners=PLAINTEXT://${LOOPBACK}:${own.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${nodeLogDir(spec.dir)}
num.partitions=${spec.partitions}
default.replication.factor=${rf}
min.insync.replicas=${minIsr}
offsets.topic.replication.factor=${rf}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=${rf}
transaction.state.log.min.isr=${minIsr}
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=${rf}
share.coordinator.state.topic.min.isr=${minIsr}
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=${spec.brokerSessionTimeoutMs ?? 3000}
log.cleaner.dedupe.buffer.size=16777216
`
}

// Warnings and errors only, plus the one INFO line that says the server is ready.
const LOG4J = `appender.out.type=Console
appender.out.name=OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=OUT
logger.ready.name=kafka.server.KafkaRaftServer
logger.ready.level=INFO
`

/** Writes the node's properties (again, e.g. after new ports were picked) and its log4j file. */
export function writeNodeFiles(spec: KafkaNodeSpec): void {
  writeFileSync(join(spec.dir, 'log4j2.properties'), LOG4J)
  writeFileSync(join(spec.dir, 'server.properties'), serverProperties(spec))
}

/** Formats the node's data dir with `cluster` unless it is formatted already. */
export async function formatNode(spec: KafkaNodeSpec, cluster: string): Promise<void> {
  const logDir = nodeLogDir(spec.dir)
  if (existsSync(join(logDir, 'meta.properties'))) return
  const libs = await ensureKafkaJars()
  const java = await requireJava()
  try {
    await run(java, [
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      `-Dlog4j2.configurationFile=${join(spec.dir, 'log4j2.properties')}`,
      '-cp',
      join(libs, '*'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      cluster,
      '-c',
      join(spec.dir, 'server.properties')
    ])
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`formatting the Kafka data dir ${logDir} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err })
  }
}

/** Starts the node and resolves once it logged that it is ready and accepts connections. */
export async function launchNode(spec: KafkaNodeSpec): Promise<ServiceProcess> {
  const libs = await ensureKafkaJars()
  const java = await requireJava()
  const port = (spec.voters[spec.nodeId - 1] as NodePorts).port
  const logFile = nodeLogFile(spec.dir)
  const jvmArgs = [
    `-Xms${spec.heapMb}m`,
    `-Xmx${spec.heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(spec.dir, 'log4j2.properties')}`,
    '-cp',
    join(libs, '*'),
    'kafka.Kafka',
    join(spec.dir, 'server.properties')
  ]
  const offset = existsSync(logFile) ? statSync(logFile).size : 0
  const started = await spawnService(java, jvmArgs, { logFile, cwd: spec.dir, detached: spec.detached })
  const logged = (): boolean => readFileSync(logFile).subarray(offset).includes(READY_LINE)
  try {
    await waitUntil(async () => logged() && (await canConnect(port)), {
      what: `Kafka node ${spec.nodeId} on ${LOOPBACK}:${port}`,
      timeoutMs: spec.startTimeoutMs,
      proc: started,
      logFile
    })
  } catch (err) {
    await terminate(started, 'SIGKILL', 0)
    throw err
  }
  return started
}

/** True when a start failed because a port picked for it was taken meanwhile. */
export const isPortClash = (err: unknown): boolean => /Address already in use/.test(String(err))
