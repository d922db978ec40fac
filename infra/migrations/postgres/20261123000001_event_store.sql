-- The event store: postgres-es's `events` table, extended with a global log.
--
-- * position:    global, strictly increasing in COMMIT order. A BEFORE INSERT trigger takes a
--                transaction-scoped advisory lock before drawing the next position, so a second
--                appending transaction waits until the first has committed (or rolled back).
--                Hence a reader that has seen position N can never later see a committed event
--                below N: tailing `WHERE position > checkpoint` skips nothing. Rolled-back
--                appends leave harmless holes.
-- * tx_id:       the writing transaction (diagnostics; lets an operator correlate appends).
-- * event_id:    unique id of the event, carried to Kafka as a header for de-duplication.
-- * recorded_at: when the event was appended.
CREATE TABLE IF NOT EXISTS events (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence > 0),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    position       bigint      NOT NULL,
    event_id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    CONSTRAINT events_position_key UNIQUE (position),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE SEQUENCE IF NOT EXISTS events_position_seq OWNED BY events.position;

CREATE OR REPLACE FUNCTION events_assign_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Serialises appenders from their first event to their commit (see above).
    PERFORM pg_advisory_xact_lock(7426530120000001);
    NEW.position := nextval('events_position_seq');
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Delivered at commit; wakes tailing projectors and the relay without polling.
    PERFORM pg_notify('shopcore_events', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS events_assign_position ON events;
CREATE TRIGGER events_assign_position BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_assign_position();

DROP TRIGGER IF EXISTS events_notify ON events;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- postgres-es's snapshot table (unused: Shopcore loads aggregates from events only, because
-- cqrs-es 0.5.0 applies events twice with the aggregate/snapshot stores).
CREATE TABLE IF NOT EXISTS snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL,
    current_snapshot bigint NOT NULL,
    payload          jsonb  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Results of commands sent with an idempotency key; written in the same transaction as the
-- command's events.
CREATE TABLE IF NOT EXISTS command_idempotency (
    idempotency_key text        PRIMARY KEY,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    command_type    text        NOT NULL,
    version         bigint      NOT NULL,
    position        bigint      NOT NULL,
    events_written  integer     NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- Values that must be unique across aggregates (e.g. a customer's e-mail), reserved in the same
-- transaction as the events that claim them.
CREATE TABLE IF NOT EXISTS unique_claims (
    scope          text NOT NULL,
    value          text NOT NULL,
    aggregate_id   text NOT NULL,
    PRIMARY KEY (scope, value)
);
