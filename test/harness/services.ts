// One Kafka, one Postgres and one Redis per test file, started on first use and disposed after the
// file's tests. `node --test` runs each file in its own process, so "per process" is "per file".
// A missing binary rejects with the command that installs it, which fails the test (never a skip).
import { after } from 'node:test'
import { startKafka, type KafkaOptions, type KafkaServer } from '../../dev/kafka.ts'
import { startKafkaCluster, type KafkaCluster, type KafkaClusterOptions } from '../../dev/kafka-cluster.ts'
import { startPostgres, type PostgresOptions, type PostgresServer } from '../../src/adapters/embedded/postgres.ts'
import { startMosquitto, type MosquittoOptions, type MosquittoServer } from '../../dev/mosquitto.ts'
import { startRedis, type RedisOptions, type RedisServer } from '../../dev/redis.ts'
import { uniqueName } from './names.ts'

interface Disposable {
  dispose(): Promise<void>
}

const owned: Promise<Disposable>[] = []

// Registered when this module is first imported, i.e. at the top level of a test file, so the hook
// belongs to the file and not to whichever test happens to start a service first.
after(async () => {
  const servers = await Promise.allSettled(owned.splice(0))
  await Promise.all(servers.map((s) => (s.status === 'fulfilled' ? s.value.dispose() : undefined)))
})

function own<T extends Disposable>(starting: Promise<T>): Promise<T> {
  owned.push(starting)
  return starting
}

let kafka: Promise<KafkaServer> | undefined
let postgres: Promise<PostgresServer> | undefined
let redis: Promise<RedisServer> | undefined

/** The Kafka broker shared by this test file (3 partitions for auto-created topics). */
export function useKafka(): Promise<KafkaServer> {
  kafka ??= own(startKafka({ partitions: 3 }))
  return kafka
}

/** The PostgreSQL server shared by this test file; prefer freshDatabase() for a database of your own. */
export function usePostgres(): Promise<PostgresServer> {
  postgres ??= own(startPostgres())
  return postgres
}

/** The Redis server shared by this test file; give each test its own key prefix (uniqueName). */
export function useRedis(): Promise<RedisServer> {
  redis ??= own(startRedis())
  return redis
}

/** The URL of a new, empty database on the shared PostgreSQL server. */
export async function freshDatabase(prefix = 'test'): Promise<string> {
  return (await usePostgres()).createDatabase(uniqueName(prefix))
}

/** A Kafka broker of the caller's own (to stop or kill without disturbing others), disposed after the file. */
export function ownKafka(options: KafkaOptions = {}): Promise<KafkaServer> {
  return own(startKafka({ partitions: 3, ...options }))
}

let kafkaCluster: Promise<KafkaCluster> | undefined

/**
 * The KRaft cluster of this test file (3 nodes, replication factor 3, min.insync.replicas 2 unless
 * told otherwise; the options of the first call win), its nodes to stop, kill and restart.
 */
export function useKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  kafkaCluster ??= own(startKafkaCluster(options))
  return kafkaCluster
}

/** A PostgreSQL server of the caller's own, disposed after the file. */
export function ownPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  return own(startPostgres(options))
}

/** A Redis server of the caller's own, disposed after the file. */
export function ownRedis(options: RedisOptions = {}): Promise<RedisServer> {
  return own(startRedis(options))
}

let mosquitto: Promise<MosquittoServer> | undefined

/** The Mosquitto (MQTT 5 broker) shared by this test file; give each test its own topics and client ids. */
export function useMosquitto(): Promise<MosquittoServer> {
  mosquitto ??= own(startMosquitto())
  return mosquitto
}

/** A Mosquitto of the caller's own (to stop or kill without disturbing others), disposed after the file. */
export function ownMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  return own(startMosquitto(options))
}
