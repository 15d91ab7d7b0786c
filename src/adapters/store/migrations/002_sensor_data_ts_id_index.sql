-- GET /data and its keyset paging read newest first by (ts, id): this index serves that order
-- directly, so a page costs O(limit) whatever the table size. Per-sensor reads use the
-- UNIQUE (sensor_id, ts) index (within one sensor, ts alone identifies a reading).
CREATE INDEX IF NOT EXISTS sensor_data_ts_id_idx ON sensor_data (ts DESC, id DESC);
