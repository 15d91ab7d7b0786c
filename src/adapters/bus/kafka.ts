// The Kafka bus adapter: publisher, consumer, admin and reader, each its own client (see the kafka-*.ts files).
export { KafkaBusAdmin } from './kafka-admin.ts'
export type { KafkaBusOptions } from './kafka-client.ts'
export { KafkaBusConsumer, type KafkaBusConsumerOptions } from './kafka-consumer.ts'
export { KafkaBusPublisher } from './kafka-publisher.ts'
export { KafkaBusReader } from './kafka-reader.ts'
