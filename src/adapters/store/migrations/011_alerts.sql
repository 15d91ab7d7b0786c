-- Alerts: rules managed over the API, one state per (rule, sensor), the events of each episode
-- (exactly one `firing` and one `resolved`: the UNIQUE key below, inserted ON CONFLICT DO NOTHING in
-- the transaction that changes the state) and the webhook deliveries of those events (an outbox).
CREATE TABLE IF NOT EXISTS alert_rules (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT        NOT NULL,
    -- a sensor id or a glob of one (`*`, `?`), as the live stream's sensor_id
    sensor          TEXT        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('above', 'below', 'no_data')),
    threshold       FLOAT8,
    hysteresis      FLOAT8      NOT NULL DEFAULT 0 CHECK (hysteresis >= 0),
    for_seconds     FLOAT8      NOT NULL DEFAULT 0 CHECK (for_seconds >= 0),
    no_data_seconds FLOAT8,
    webhook_url     TEXT,
    webhook_secret  TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'no_data') = (no_data_seconds IS NOT NULL AND threshold IS NULL))
);

CREATE TABLE IF NOT EXISTS alert_states (
    rule_id    BIGINT      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    sensor_id  TEXT        NOT NULL,
    state      TEXT        NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
    -- episodes that have fired so far: the current (or last) one's number
    episode    INTEGER     NOT NULL DEFAULT 0,
    -- reading time the condition started to hold (pending, firing)
    since      TIMESTAMPTZ,
    -- the newest reading time evaluated: older readings are ignored for alerting
    last_ts    TIMESTAMPTZ NOT NULL,
    last_value FLOAT8,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, sensor_id)
);
CREATE INDEX IF NOT EXISTS alert_states_active ON alert_states (state) WHERE state IN ('pending', 'firing');

CREATE TABLE IF NOT EXISTS alert_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id    BIGINT      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    sensor_id  TEXT        NOT NULL,
    episode    INTEGER     NOT NULL,
    kind       TEXT        NOT NULL CHECK (kind IN ('firing', 'resolved')),
    value      FLOAT8,
    -- the reading time (or, for no_data, the check time) of the transition
    at         TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (rule_id, sensor_id, episode, kind)
);

CREATE TABLE IF NOT EXISTS alert_deliveries (
    event_id     BIGINT      PRIMARY KEY REFERENCES alert_events (id) ON DELETE CASCADE,
    url          TEXT        NOT NULL,
    secret       TEXT,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    next_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    failed_at    TIMESTAMPTZ,
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (next_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
