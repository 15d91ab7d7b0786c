-- GET /sensors/:id/stats reads the value of every reading of a sensor in a time range. With value in
-- the (sensor_id, ts) key's index that is an index-only scan: a day of one sensor is ~10 index pages
-- instead of ~2,000 heap pages, one per reading, as readings of all sensors arrive interleaved.
-- Same key, same name; ON CONFLICT (sensor_id, ts) uses it as before. Dropping the old one locks the
-- table, reads included, until the new one is built (one pass over the table).
ALTER TABLE sensor_data DROP CONSTRAINT sensor_data_sensor_id_ts_key;
ALTER TABLE sensor_data ADD CONSTRAINT sensor_data_sensor_id_ts_key UNIQUE (sensor_id, ts) INCLUDE (value);
