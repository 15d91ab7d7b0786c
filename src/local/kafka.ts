// A single-node Apache Kafka (KRaft, combined broker + controller) from the jars on Maven Central,
// for tests and `npm run services:up`. See ../../../shared/KAFKA.md for the recipe.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { requireExecutable } from './environment.ts'
import { canConnect, freePort, LOOPBACK } from './free-port.ts'
import { ensureKafkaJars, JAVA_INSTALL, KAFKA_VERSION } from './kafka-jars.ts'
import { makeTempDir, removeTempDir, serviceControl, spawnService, terminate, waitUntil, type ServiceControl, type ServiceProcess } from './processes.ts'

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
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function serverProperties(o: { port: number; controllerPort: number; logDir: string; partitions: number }): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${LOOPBACK}:${o.controllerPort}
listeners=PLAINTEXT://${LOOPBACK}:${o.port},CONTROLLER://${LOOPBACK}:${o.controllerPort}
advertised.listeners=PLAINTEXT://${LOOPBACK}:${o.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${o.logDir}
num.partitions=${o.partitions}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
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

function isEmptyOrAbsent(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0
}

export async function startKafka(options: KafkaOptions = {}): Promise<KafkaServer> {
  const persistent = options.persistent === true
  const detached = options.detached === true
  if (detached && (!persistent || options.dataDir === undefined)) throw new Error('startKafka: detached needs a persistent dataDir')
  const libs = await ensureKafkaJars()
  const java = await requireJava()
  const classpath = join(libs, '*')

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
  const logDir = join(dataDir, 'data')
  const propertiesFile = join(dataDir, 'server.properties')
  const log4jFile = join(dataDir, 'log4j2.properties')
  const logFile = join(dataDir, 'kafka.log')
  const partitions = options.partitions ?? 1
  const heapMb = options.heapMb ?? 512
  const timeoutMs = options.startTimeoutMs ?? 60_000
  writeFileSync(log4jFile, LOG4J)

  let port = options.port ?? (await freePort())
  let controllerPort = options.controllerPort ?? (await freePort([port]))
  const writeProperties = (): void => writeFileSync(propertiesFile, serverProperties({ port, controllerPort, logDir, partitions }))
  writeProperties()

  if (!existsSync(join(logDir, 'meta.properties'))) {
    try {
      await run(java, ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', classpath,
        'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesFile])
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string }
      throw new Error(`formatting the Kafka data dir ${logDir} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err })
    }
  }

  const jvmArgs = [`-Xms${heapMb}m`, `-Xmx${heapMb}m`, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', classpath, 'kafka.Kafka', propertiesFile]
  const launch = async (): Promise<ServiceProcess> => {
    const offset = existsSync(logFile) ? statSync(logFile).size : 0
    const started = await spawnService(java, jvmArgs, { logFile, cwd: dataDir, detached })
    const logged = (): boolean => readFileSync(logFile).subarray(offset).includes(READY_LINE)
    try {
      await waitUntil(async () => logged() && (await canConnect(port)), { what: `Kafka broker on ${LOOPBACK}:${port}`, timeoutMs, proc: started, logFile })
    } catch (err) {
      await terminate(started, 'SIGKILL', 0)
      throw err
    }
    return started
  }

  // Ports picked here can be taken by someone else before the broker binds them: pick again.
  let first: ServiceProcess
  for (let attempt = 1; ; attempt++) {
    try {
      first = await launch()
      break
    } catch (err) {
      const portClash = /Address already in use/.test(String(err))
      if (!portClash || attempt >= 3 || (options.port !== undefined && options.controllerPort !== undefined)) {
        if (temp) removeTempDir(dataDir)
        throw err
      }
      if (options.port === undefined) port = await freePort([controllerPort])
      if (options.controllerPort === undefined) controllerPort = await freePort([port])
      writeProperties()
    }
  }

  const control = serviceControl({ first, launch, cleanup: () => (persistent ? undefined : removeTempDir(dataDir)) })
  return Object.assign(control, { brokers: `${LOOPBACK}:${port}`, port, controllerPort, dataDir, logFile })
}
