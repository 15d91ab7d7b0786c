-- The seed's table and column names, with honest types. (sensor_id, ts) identifies a reading.
CREATE TABLE IF NOT EXISTS sensor_data (
    id        BIGSERIAL PRIMARY KEY,
    sensor_id TEXT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    ts        TIMESTAMPTZ NOT NULL,
    UNIQUE (sensor_id, ts)
);
