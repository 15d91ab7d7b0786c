-- Dead letters that `sensorstream dlq replay` re-sent to the readings topic: each is re-sent once.
-- Independent of the other migrations (it touches no other table).
CREATE TABLE IF NOT EXISTS dlq_replayed (
    dlq_topic     TEXT        NOT NULL,
    dlq_partition INTEGER     NOT NULL,
    dlq_offset    BIGINT      NOT NULL,
    replayed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
