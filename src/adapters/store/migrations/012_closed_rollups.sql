-- Only closed buckets in the coarse rollups. rollup_1h holds the hours before a watermark
-- (rollup_watermark.closed_until, on a whole hour) and the new rollup_1d the days that end at or
-- before it; the open hours are read from rollup_1m and the open day from rollup_1h and rollup_1m
-- at query time. A write upserts rollup_1m as before, and rollup_1h / rollup_1d only for readings
-- older than the watermark (late data). Closing (sensorstream_close_rollups) moves the watermark
-- and aggregates the just-closed hours and days once, under an exclusive advisory lock that every
-- writer holds shared for its whole transaction (sensorstream_rollup_watermark): the closer waits
-- for every writer in flight, and writers arriving meanwhile wait for the closer, so a reading is
-- counted in a closed bucket either by the closer (it was committed before) or by its own write
-- (it read the new watermark), never both and never neither. Advisory locks queue in order, so a
-- closer is not starved by a stream of writers (a row lock FOR SHARE could be).
--
-- Existing rollups (004) are converted without loss: hours from the current hour on are dropped
-- from rollup_1h (rollup_1m holds them), and rollup_1d is computed from the closed hours.

CREATE TABLE rollup_watermark (
    one          BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    closed_until TIMESTAMPTZ NOT NULL CHECK (closed_until = date_bin('1 hour', closed_until, timestamptz 'epoch'))
);
INSERT INTO rollup_watermark (closed_until) VALUES (date_bin('1 hour', now(), timestamptz 'epoch'));

CREATE TABLE rollup_1d (LIKE rollup_1m) PARTITION BY RANGE (bucket);

DO $$
DECLARE
  slot timestamptz;
BEGIN
  FOR slot IN SELECT DISTINCT date_trunc('year', bucket, 'UTC') FROM rollup_1h LOOP
    PERFORM sensorstream_add_partition('rollup_1d', slot, slot + interval '1 year');
  END LOOP;
END $$;

DELETE FROM rollup_1h WHERE bucket >= (SELECT closed_until FROM rollup_watermark);

INSERT INTO rollup_1d
SELECT sensor_id, date_bin('1 day', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
       min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
FROM rollup_1h
WHERE bucket < date_bin('1 day', (SELECT closed_until FROM rollup_watermark), timestamptz 'epoch')
GROUP BY 1, 2;

ALTER TABLE rollup_1d ADD PRIMARY KEY (sensor_id, bucket);
-- Closing reads one hour of rollup_1m across all sensors: a BRIN index on bucket finds it without
-- a pass over the month (the rows arrive roughly in time order; it costs next to nothing to keep).
CREATE INDEX rollup_1m_bucket_brin ON rollup_1m USING brin (bucket) WITH (pages_per_range = 16, autosummarize = on);

-- The watermark for a writer's transaction: takes the closing lock shared (held to the end of the
-- transaction), then reads the watermark in a snapshot taken after the lock (a VOLATILE function
-- gets one per statement), so that it sees the closing that the lock may have waited for.
CREATE FUNCTION sensorstream_rollup_watermark() RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(x'5e250a57e414'::int8);
  RETURN (SELECT closed_until FROM rollup_watermark);
END $$;

-- Closes the hours before `upto` (rounded down to an hour), at most `max_hours` of them, and the
-- days they complete: aggregated from rollup_1m (hours) and rollup_1h (days) once, under the
-- closing lock taken exclusive. Returns the watermark after. The partitions exist: every write
-- makes them in each table for its readings.
CREATE FUNCTION sensorstream_close_rollups(upto timestamptz, max_hours int) RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  old_w timestamptz;
  new_w timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(x'5e250a57e414'::int8);
  SELECT closed_until INTO old_w FROM rollup_watermark;
  new_w := least(date_bin('1 hour', upto, timestamptz 'epoch'), old_w + make_interval(hours => max_hours));
  IF new_w <= old_w THEN
    RETURN old_w;
  END IF;
  INSERT INTO rollup_1h
  SELECT sensor_id, date_bin('1 hour', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1m WHERE bucket >= old_w AND bucket < new_w
  GROUP BY 1, 2 ORDER BY sensor_id COLLATE "C", 2;
  INSERT INTO rollup_1d
  SELECT sensor_id, date_bin('1 day', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1h
  WHERE bucket >= date_bin('1 day', old_w, timestamptz 'epoch') AND bucket < date_bin('1 day', new_w, timestamptz 'epoch')
  GROUP BY 1, 2 ORDER BY sensor_id COLLATE "C", 2;
  UPDATE rollup_watermark SET closed_until = new_w;
  RETURN new_w;
END $$;

-- The repair of 004, for the new layout: every rollup recomputed from the raw rows, the closed
-- tiers only up to the watermark, under the closing lock (no write or closing meanwhile).
CREATE OR REPLACE FUNCTION sensorstream_rebuild_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(x'5e250a57e414'::int8);
  TRUNCATE rollup_1m, rollup_1h, rollup_1d;
  INSERT INTO rollup_1m
  SELECT sensor_id, date_bin('1 minute', ts, timestamptz 'epoch'), count(*), sum(value), min(value), max(value),
         min(ts), (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM sensor_data GROUP BY 1, 2;
  INSERT INTO rollup_1h
  SELECT sensor_id, date_bin('1 hour', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1m WHERE bucket < (SELECT closed_until FROM rollup_watermark) GROUP BY 1, 2;
  INSERT INTO rollup_1d
  SELECT sensor_id, date_bin('1 day', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1h WHERE bucket < date_bin('1 day', (SELECT closed_until FROM rollup_watermark), timestamptz 'epoch') GROUP BY 1, 2;
END $$;
