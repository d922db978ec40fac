-- Checkpoints of the Kafka relay (and any other publisher of the global log): the position of
-- the last event the broker acknowledged. Only moves forward.
CREATE TABLE IF NOT EXISTS relay_checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
