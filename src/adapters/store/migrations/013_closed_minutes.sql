-- Closed minutes too: rollup_1m holds the minutes before minutes_complete_until, and a write no
-- longer upserts it for every row, only for late readings (older than minutes_closed_until). The
-- open minutes are read from raw rows at query time (a few minutes per sensor).
--
-- Closing minutes takes two transactions, so that no writer waits while raw rows are aggregated:
-- 1. sensorstream_close_minutes_begin moves minutes_closed_until under the closing lock taken
--    exclusive (012's: it waits for the writers in flight, and the writers after it read the new
--    value) and records its own transaction id. Writers from then on upsert their readings older
--    than the new value themselves; the ones before it did not, and all have committed.
-- 2. sensorstream_close_minutes_finish, without the closing lock, adds to rollup_1m the raw rows
--    of [minutes_complete_until, minutes_closed_until) written before step 1: exactly the rows
--    whose inserting transaction is older than step 1's, because a writer's transaction id is
--    assigned after it has taken the closing lock shared (its first row comes after the lock).
--    It moves minutes_complete_until in the same transaction, so a query (one snapshot) reads a
--    minute from rollup_1m once it is complete and from raw rows until then.
-- A closer that dies between the two leaves step 2 pending; the next closer does it first. Closers
-- take turns on a lock of their own (the writers never take it), always before the closing lock.
-- Hours close from complete minutes only (closed_until <= minutes_complete_until).
--
-- Closers skip what holds no data (a step ends at the first row after the watermark plus its
-- width), so a fresh database starts its watermarks at 2000-01-01, the earliest time a reading
-- may have: no reading is late until the closer has passed it.
--
-- Caveat: "older than step 1's transaction" compares transaction ages, exact for transactions less
-- than two billion apart (readings are dated at most hours ahead, so their minutes close long
-- before that).

ALTER TABLE rollup_watermark
  ADD COLUMN minutes_closed_until TIMESTAMPTZ,
  ADD COLUMN minutes_complete_until TIMESTAMPTZ,
  ADD COLUMN minutes_closing_xid xid8;

-- No writer in flight while rollup_1m loses its open minutes.
SELECT pg_advisory_xact_lock(x'5e250a57e414'::int8);

-- Nothing stored at all: start from the earliest time a reading may have.
UPDATE rollup_watermark SET closed_until = timestamptz '2000-01-01 00:00:00+00'
WHERE NOT EXISTS (SELECT 1 FROM sensor_data) AND NOT EXISTS (SELECT 1 FROM rollup_1m)
  AND NOT EXISTS (SELECT 1 FROM rollup_1h) AND NOT EXISTS (SELECT 1 FROM rollup_1d);

UPDATE rollup_watermark
SET minutes_closed_until = closed_until, minutes_complete_until = closed_until;

DELETE FROM rollup_1m WHERE bucket >= (SELECT minutes_complete_until FROM rollup_watermark);

ALTER TABLE rollup_watermark
  ALTER COLUMN minutes_closed_until SET NOT NULL,
  ALTER COLUMN minutes_complete_until SET NOT NULL,
  ADD CONSTRAINT rollup_watermark_order CHECK (closed_until <= minutes_complete_until AND minutes_complete_until <= minutes_closed_until),
  ADD CONSTRAINT rollup_watermark_pending CHECK ((minutes_closing_xid IS NULL) = (minutes_complete_until = minutes_closed_until));

-- The watermarks for a writer's transaction (012's function, with the minutes'): the closing lock
-- shared, then the watermarks read in a snapshot taken after it.
DROP FUNCTION sensorstream_rollup_watermark();
CREATE FUNCTION sensorstream_rollup_watermarks(OUT closed_until timestamptz, OUT minutes_closed_until timestamptz) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(x'5e250a57e414'::int8);
  SELECT w.closed_until, w.minutes_closed_until INTO closed_until, minutes_closed_until FROM rollup_watermark w;
END $$;

-- Step 1 (above): closes the minutes before `upto` (rounded down), at most `max_minutes` of them.
-- True when a step 2 is due (this one's, or one a dead closer left).
CREATE FUNCTION sensorstream_close_minutes_begin(upto timestamptz, max_minutes int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  wm rollup_watermark;
  new_w timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(x'5e250a57e415'::int8);
  SELECT * INTO wm FROM rollup_watermark;
  IF wm.minutes_complete_until < wm.minutes_closed_until THEN
    RETURN true;
  END IF;
  new_w := least(date_bin('1 minute', upto, timestamptz 'epoch'),
                 date_bin('1 minute', coalesce((SELECT min(ts) FROM sensor_data WHERE ts >= wm.minutes_closed_until), upto), timestamptz 'epoch')
                   + make_interval(mins => max_minutes));
  IF new_w <= wm.minutes_closed_until THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(x'5e250a57e414'::int8);
  UPDATE rollup_watermark SET minutes_closed_until = new_w, minutes_closing_xid = pg_current_xact_id();
  RETURN true;
END $$;

-- Step 2 (above). Returns minutes_complete_until after.
CREATE FUNCTION sensorstream_close_minutes_finish() RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  wm rollup_watermark;
BEGIN
  PERFORM pg_advisory_xact_lock(x'5e250a57e415'::int8);
  SELECT * INTO wm FROM rollup_watermark;
  IF wm.minutes_complete_until >= wm.minutes_closed_until THEN
    RETURN wm.minutes_complete_until;
  END IF;
  INSERT INTO rollup_1m AS r (sensor_id, bucket, count, sum, min, max, first_ts, first_value, last_ts, last_value)
  SELECT sensor_id, date_bin('1 minute', ts, timestamptz 'epoch'), count(*), sum(value), min(value), max(value),
         min(ts), (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM sensor_data
  WHERE ts >= wm.minutes_complete_until AND ts < wm.minutes_closed_until AND age(xmin) > age(wm.minutes_closing_xid::xid)
  GROUP BY 1, 2 ORDER BY sensor_id COLLATE "C", 2
  ON CONFLICT (sensor_id, bucket) DO UPDATE SET
    count = r.count + excluded.count, sum = r.sum + excluded.sum,
    min = least(r.min, excluded.min), max = greatest(r.max, excluded.max),
    first_value = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_value ELSE r.first_value END,
    first_ts = least(r.first_ts, excluded.first_ts),
    last_value = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_value ELSE r.last_value END,
    last_ts = greatest(r.last_ts, excluded.last_ts);
  UPDATE rollup_watermark SET minutes_complete_until = wm.minutes_closed_until, minutes_closing_xid = NULL;
  RETURN wm.minutes_closed_until;
END $$;

-- 012's hour closing, now after the closers' lock, up to the complete minutes only, skipping hours
-- without data.
CREATE OR REPLACE FUNCTION sensorstream_close_rollups(upto timestamptz, max_hours int) RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  old_w timestamptz;
  new_w timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(x'5e250a57e415'::int8);
  PERFORM pg_advisory_xact_lock(x'5e250a57e414'::int8);
  SELECT closed_until INTO old_w FROM rollup_watermark;
  new_w := least(date_bin('1 hour', upto, timestamptz 'epoch'),
                 date_bin('1 hour', coalesce((SELECT min(bucket) FROM rollup_1m WHERE bucket >= old_w), upto), timestamptz 'epoch')
                   + make_interval(hours => max_hours),
                 date_bin('1 hour', (SELECT minutes_complete_until FROM rollup_watermark), timestamptz 'epoch'));
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

-- The repair, for this layout: every rollup recomputed from the raw rows, each tier up to its
-- watermark, under both locks (no write or closing meanwhile); a pending step 2 is done with it.
CREATE OR REPLACE FUNCTION sensorstream_rebuild_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(x'5e250a57e415'::int8);
  PERFORM pg_advisory_xact_lock(x'5e250a57e414'::int8);
  UPDATE rollup_watermark SET minutes_complete_until = minutes_closed_until, minutes_closing_xid = NULL;
  TRUNCATE rollup_1m, rollup_1h, rollup_1d;
  INSERT INTO rollup_1m
  SELECT sensor_id, date_bin('1 minute', ts, timestamptz 'epoch'), count(*), sum(value), min(value), max(value),
         min(ts), (array_agg(value ORDER BY ts))[1], max(ts), (array_agg(value ORDER BY ts DESC))[1]
  FROM sensor_data WHERE ts < (SELECT minutes_complete_until FROM rollup_watermark) GROUP BY 1, 2;
  INSERT INTO rollup_1h
  SELECT sensor_id, date_bin('1 hour', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1m WHERE bucket < (SELECT closed_until FROM rollup_watermark) GROUP BY 1, 2;
  INSERT INTO rollup_1d
  SELECT sensor_id, date_bin('1 day', bucket, timestamptz 'epoch'), sum(count), sum(sum), min(min), max(max),
         min(first_ts), (array_agg(first_value ORDER BY first_ts))[1], max(last_ts), (array_agg(last_value ORDER BY last_ts DESC))[1]
  FROM rollup_1h WHERE bucket < date_bin('1 day', (SELECT closed_until FROM rollup_watermark), timestamptz 'epoch') GROUP BY 1, 2;
END $$;
