-- Answer epochs: per UTC day, counts that change whenever an answer about that day may have
-- changed, for the API's cache of stats answers (src/services/api/answer-cache.ts). Every write of
-- readings raises its days' count in its own statement, so in its own transaction; retention makes
-- its slot odd before it detaches a partition and even after the drop. The API reads the sum over
-- a range's days before it reads an answer, and serves that answer again only while the sum is the
-- same and no drop is under way: no commit that could change it has happened since it was read.
--
-- day: unix day, floor(seconds since the epoch / 86400). slot: 0-15, the writing connection's (its
-- own within a process, from a random start: see answer-epochs.ts), so that concurrent writers of
-- one day rarely wait for each other's commit on one row; -1: retention's. Rows are never deleted (a sum that went down could come back to a value it had).
CREATE TABLE answer_epochs (
  day INTEGER NOT NULL,
  slot SMALLINT NOT NULL,
  epoch BIGINT NOT NULL,
  PRIMARY KEY (day, slot)
);

-- For readings loaded by hand (COPY, INSERT … SELECT) while the API runs: tells its caches that the
-- answers about [from_ts, to_ts) may have changed.
CREATE FUNCTION sensorstream_answers_changed(from_ts TIMESTAMPTZ, to_ts TIMESTAMPTZ) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO answer_epochs AS a (day, slot, epoch)
  SELECT d, 0, 1 FROM generate_series(floor(extract(epoch FROM from_ts) / 86400)::int, ceil(extract(epoch FROM to_ts) / 86400)::int - 1) AS d
  ORDER BY d
  ON CONFLICT (day, slot) DO UPDATE SET epoch = a.epoch + 1
$$;
