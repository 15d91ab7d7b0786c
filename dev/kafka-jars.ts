// The Apache Kafka broker jars, fetched once from Maven Central with Maven into the user's cache.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { requireExecutable, userCacheDir } from '../src/adapters/embedded/environment.ts'

export const KAFKA_VERSION = '4.1.1'
const LOG4J_VERSION = '2.25.3'
const SLF4J_VERSION = '1.7.36'
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies'
export const JAVA_INSTALL = 'apt-get update && apt-get install -y openjdk-17-jre-headless maven'

const run = promisify(execFile)

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sensorstream</groupId><artifactId>kafka-broker</artifactId><version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>${LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>${LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>${SLF4J_VERSION}</version></dependency>
  </dependencies>
</project>
`

/** `${XDG_CACHE_HOME or ~/.cache}/sensorstream/kafka-<version>` */
export function kafkaCacheDir(): string {
  return join(userCacheDir(), `kafka-${KAFKA_VERSION}`)
}

const stderrLine = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/**
 * Makes sure the broker jars are in the cache and returns their folder (`…/libs`). The first call
 * runs Maven (a progress line goes to `log`, stderr by default); later calls return at once.
 */
export function ensureKafkaJars(log: (line: string) => void = stderrLine): Promise<string> {
  // One fetch per process, however many brokers start at once.
  fetching ??= fetchKafkaJars(log).finally(() => {
    fetching = undefined
  })
  return fetching
}

let fetching: Promise<string> | undefined

async function fetchKafkaJars(log: (line: string) => void): Promise<string> {
  const dir = kafkaCacheDir()
  const libs = join(dir, 'libs')
  const marker = join(dir, 'complete')
  if (existsSync(marker)) return libs
  const mvn = requireExecutable('mvn', JAVA_INSTALL)
  requireExecutable('java', JAVA_INSTALL)
  mkdirSync(dir, { recursive: true })
  const pom = join(dir, 'pom.xml')
  writeFileSync(pom, POM)
  const staging = join(dir, `libs.${process.pid}.tmp`)
  rmSync(staging, { recursive: true, force: true })
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${libs} (once)…`)
  const started = Date.now()
  try {
    await run(mvn, ['-B', '-q', '-f', pom, DEPENDENCY_PLUGIN, '-DincludeScope=runtime', `-DoutputDirectory=${staging}`], {
      maxBuffer: 16 * 1024 * 1024
    })
  } catch (err) {
    rmSync(staging, { recursive: true, force: true })
    const e = err as { stdout?: string; stderr?: string; message: string }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n')
    throw new Error(`fetching the Kafka jars with Maven failed: ${e.message}\n${output}`, { cause: err })
  }
  // Another process may have finished first: its complete copy wins.
  if (existsSync(marker)) {
    rmSync(staging, { recursive: true, force: true })
    return libs
  }
  rmSync(libs, { recursive: true, force: true })
  renameSync(staging, libs)
  writeFileSync(marker, `${new Date().toISOString()}\n`)
  log(`fetched Kafka ${KAFKA_VERSION} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return libs
}
