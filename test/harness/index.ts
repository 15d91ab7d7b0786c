// What test files use: throwaway Kafka, Postgres and Redis started on first use and cleaned up after
// the file, and unique names for topics, databases and key prefixes. Import it at the top level of
// the test file.
export { freshDatabase, ownKafka, ownMosquitto, ownPostgres, ownRedis, useKafka, useKafkaCluster, useMosquitto, usePostgres, useRedis } from './services.ts'
export { uniqueName } from './names.ts'
export { waitFor } from './wait.ts'
export { closeAllRollups, ROLLUP_TABLES, rollupMismatches, tierMismatches, type RollupTable } from './rollups.ts'
export { setWatermarks } from '../../src/adapters/store/rollup-closer.ts'
export type { KafkaServer } from '../../dev/kafka.ts'
export type { KafkaCluster, KafkaNode } from '../../dev/kafka-cluster.ts'
export type { PostgresServer } from '../../src/adapters/embedded/postgres.ts'
export type { RedisServer } from '../../dev/redis.ts'
export type { MosquittoServer } from '../../dev/mosquitto.ts'
