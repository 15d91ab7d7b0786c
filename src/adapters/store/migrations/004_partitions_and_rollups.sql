-- sensor_data becomes a table range-partitioned on ts, with 1-minute and 1-hour rollups beside it
-- (partitioned by month and by year), so that old data goes by dropping whole partitions and long
-- ranges are answered without reading raw rows. Existing rows are copied with their ids (GET /data
-- cursors stay valid) and the rollups are computed from them. The whole migration is one
-- transaction holding an ACCESS EXCLUSIVE lock on sensor_data: the README gives its duration.

-- One partition of `parent` for [lo, hi): created on its own, then attached, which takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parent (CREATE TABLE … PARTITION OF would take ACCESS
-- EXCLUSIVE and wait for, and block, every reader). Named after its start in UTC.
CREATE FUNCTION sensorstream_add_partition(parent text, lo timestamptz, hi timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  utc timestamp := lo AT TIME ZONE 'UTC';
  name text := parent || '_p' || to_char(utc, 'YYYYMMDD') ||
    CASE WHEN utc = date_trunc('day', utc) THEN '' ELSE to_char(utc, '"_"HH24MISS') END;
BEGIN
  EXECUTE format('CREATE TABLE %I (LIKE %I)', name, parent);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  RETURN name;
END $$;

-- The partitions of a table with their bounds, oldest first.
CREATE FUNCTION sensorstream_partitions(parent text) RETURNS TABLE (name text, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT c.relname::text, b[1]::timestamptz, b[2]::timestamptz
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS b
  WHERE i.inhparent = parent::regclass
  ORDER BY 2
$$;

ALTER TABLE sensor_data RENAME TO sensor_data_unpartitioned;

CREATE TABLE sensor_data (
    id        BIGINT NOT NULL DEFAULT nextval('sensor_data_id_seq'),
    sensor_id TEXT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    ts        TIMESTAMPTZ NOT NULL
) PARTITION BY RANGE (ts);

-- first_ts/last_ts identify the first and last reading by time: (sensor_id, ts) is unique, so
-- there are no ties, and a late reading replaces first or last only when it is earlier or later.
CREATE TABLE rollup_1m (
    sensor_id   TEXT NOT NULL,
    bucket      TIMESTAMPTZ NOT NULL,
    count       BIGINT NOT NULL,
    sum         DOUBLE PRECISION NOT NULL,
    min         DOUBLE PRECISION NOT NULL,
    max         DOUBLE PRECISION NOT NULL,
    first_ts    TIMESTAMPTZ NOT NULL,
    first_value DOUBLE PRECISION NOT NULL,
    last_ts     TIMESTAMPTZ NOT NULL,
    last_value  DOUBLE PRECISION NOT NULL
) PARTITION BY RANGE (bucket);
CREATE TABLE rollup_1h (LIKE rollup_1m) PARTITION BY RANGE (bucket);

DO $$
DECLARE
  width interval := coalesce(nullif(current_setting('sensorstream.partition_interval', true), ''), '1 day')::interval;
  slot timestamptz;
BEGIN
  FOR slot IN SELECT DISTINCT date_bin(width, ts, timestamptz 'epoch') FROM sensor_data_unpartitioned LOOP
    PERFORM sensorstream_add_partition('sensor_data', slot, slot + width);
  END LOOP;
  FOR slot IN SELECT DISTINCT date_trunc('month', ts, 'UTC') FROM sensor_data_unpartitioned LOOP
    PERFORM sensorstream_add_partition('rollup_1m', slot, slot + interval '1 month');
  END LOOP;
  FOR slot IN SELECT DISTINCT date_trunc('year', ts, 'UTC') FROM sensor_data_unpartitioned LOOP
    PERFORM sensorstream_add_partition('rollup_1h', slot, slot + interval '1 year');
  END LOOP;
END $$;

INSERT INTO sensor_data (id, sensor_id, value, ts) SELECT id, sensor_id, value, ts FROM sensor_data_unpartitioned;

-- Both rollups recomputed from the raw rows: the backfill here, and a repair for anyone who
-- changed raw rows by hand (SELECT sensorstream_rebuild_rollups(), in a quiet moment: it locks them).
CREATE FUNCTION sensorstream_rebuild_rollups() RETURNS void LANGUAGE sql AS $$
  TRUNCATE rollup_1m, rollup_1h;
  INSERT INTO rollup_1m
  SELECT sensor_id, date_bin('1 minute', ts, timestamptz 'epoch'), count(*), sum(value), min(value), max(value),
         min(ts), (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM sensor_data GROUP BY 1, 2;
  INSERT INTO rollup_1h
  SELECT sensor_id, date_bin('1 hour', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1m GROUP BY 1, 2;
$$;
SELECT sensorstream_rebuild_rollups();

ALTER SEQUENCE sensor_data_id_seq OWNED BY sensor_data.id;
DROP TABLE sensor_data_unpartitioned;

-- The indexes of 002 and 003, built once over the copied rows rather than row by row; each
-- partition gets its own, and partitions attached later get theirs at once (they are empty).
ALTER TABLE sensor_data ADD CONSTRAINT sensor_data_sensor_id_ts_key UNIQUE (sensor_id, ts) INCLUDE (value);
CREATE INDEX sensor_data_ts_id_idx ON sensor_data (ts DESC, id DESC);
ALTER TABLE rollup_1m ADD PRIMARY KEY (sensor_id, bucket);
ALTER TABLE rollup_1h ADD PRIMARY KEY (sensor_id, bucket);
