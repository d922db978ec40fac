-- Appends commit in parallel.
--
-- Until now a BEFORE INSERT trigger drew positions under one transaction-scoped advisory lock
-- held until COMMIT, and an AFTER INSERT trigger sent NOTIFY (which takes a database-wide lock
-- at commit, too). Every append in the system waited for the one before it to flush its WAL.
--
-- Now `position` comes straight from the sequence (unique, but not in commit order) and every
-- event records the id of the transaction that wrote it (`tx_id`, already there). Readers take
-- only events of transactions older than the oldest transaction still running
-- (`tx_id < pg_snapshot_xmin(pg_current_snapshot())`), in `(tx_id, position)` order, and keep
-- that pair as their checkpoint: an event that commits late always sorts after every event a
-- reader could already have taken. Tailers are woken by a NOTIFY the command service sends
-- after its commits, coalesced, outside the appending transactions.
DROP TRIGGER IF EXISTS events_assign_position ON events;
DROP FUNCTION IF EXISTS events_assign_position();
DROP TRIGGER IF EXISTS events_notify ON events;
DROP FUNCTION IF EXISTS events_notify();
ALTER TABLE events ALTER COLUMN position SET DEFAULT nextval('events_position_seq');

-- The read order of the global log.
CREATE INDEX IF NOT EXISTS events_log_order ON events (tx_id, position);

-- Relay checkpoints become (tx_id, position) pairs. A checkpoint of the old scheme (a position
-- in commit order) becomes the pair just before the first event it had not published yet, so
-- nothing is skipped; events it had published that sort after that pair are published again,
-- which at-least-once delivery allows (consumers drop duplicates by event id).
ALTER TABLE relay_checkpoints ADD COLUMN IF NOT EXISTS tx_id bigint;
UPDATE relay_checkpoints c SET tx_id = n.tx, position = n.pos
FROM (
    SELECT old.name, coalesce(first_left.tx, last_one.tx, 0) AS tx,
           coalesce(first_left.pos, last_one.pos, 0) AS pos
    FROM relay_checkpoints old
    LEFT JOIN LATERAL (
        SELECT e.tx_id::text::bigint AS tx, e.position - 1 AS pos FROM events e
        WHERE e.position > old.position ORDER BY e.tx_id, e.position LIMIT 1
    ) first_left ON true
    LEFT JOIN LATERAL (
        SELECT e.tx_id::text::bigint AS tx, e.position AS pos FROM events e
        ORDER BY e.tx_id DESC, e.position DESC LIMIT 1
    ) last_one ON true
    WHERE old.tx_id IS NULL
) n
WHERE c.name = n.name;
ALTER TABLE relay_checkpoints ALTER COLUMN tx_id SET DEFAULT 0;
ALTER TABLE relay_checkpoints ALTER COLUMN tx_id SET NOT NULL;

-- Snapshots of aggregates, taken every N events by the command service (postgres-es's
-- `snapshots` table is left unused: cqrs-es 0.5.0 applies events twice through it).
-- `schema` identifies the aggregate's state layout and the event versions folded into it; a
-- snapshot with another schema is ignored and replaced.
CREATE TABLE IF NOT EXISTS aggregate_snapshots (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    schema         text        NOT NULL,
    state          jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Idempotency records answer with the full log position of the first call.
ALTER TABLE command_idempotency ADD COLUMN IF NOT EXISTS tx_id bigint NOT NULL DEFAULT 0;
