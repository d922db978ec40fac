-- Idempotency keys that cannot leak or collide (the IETF "Idempotency-Key" draft, as Stripe
-- implements it): a key belongs to the caller (the token's subject) and the operation, and
-- remembers a fingerprint of the first request. The same key with another request is refused
-- (422) instead of answering with the first result; another caller's key is another key.
ALTER TABLE command_idempotency ADD COLUMN IF NOT EXISTS caller text NOT NULL DEFAULT '';
ALTER TABLE command_idempotency ADD COLUMN IF NOT EXISTS fingerprint bytea NOT NULL DEFAULT ''::bytea;
ALTER TABLE command_idempotency DROP CONSTRAINT IF EXISTS command_idempotency_pkey;
ALTER TABLE command_idempotency
    ADD CONSTRAINT command_idempotency_pkey PRIMARY KEY (caller, command_type, idempotency_key);
-- Expired records are purged by age.
CREATE INDEX IF NOT EXISTS command_idempotency_recorded_at ON command_idempotency (recorded_at);

DROP FUNCTION IF EXISTS shopcore_append(text, text, bigint[], text[], text[], jsonb[], jsonb,
    text[], text[], text[], text, text);

CREATE OR REPLACE FUNCTION shopcore_append(
    p_aggregate_type text,
    p_aggregate_id   text,
    p_sequences      bigint[],
    p_event_types    text[],
    p_event_versions text[],
    p_payloads       jsonb[],
    p_metadata       jsonb,
    p_claim_kinds    text[],   -- 'claim' or 'release', in order
    p_claim_scopes   text[],
    p_claim_values   text[],
    p_idempotency_key text,    -- NULL when the command has none
    p_command_type   text,
    p_caller         text,
    p_fingerprint    bytea
) RETURNS TABLE (tx bigint, event_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    i integer;
    touched integer;
    last_tx bigint;
    last_position bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_claim_kinds, 1), 0) LOOP
        IF p_claim_kinds[i] = 'claim' THEN
            INSERT INTO unique_claims (scope, value, aggregate_id)
            VALUES (p_claim_scopes[i], p_claim_values[i], p_aggregate_id)
            ON CONFLICT (scope, value) DO UPDATE SET aggregate_id = excluded.aggregate_id
            WHERE unique_claims.aggregate_id = excluded.aggregate_id;
            GET DIAGNOSTICS touched = ROW_COUNT;
            IF touched = 0 THEN
                RAISE EXCEPTION 'value already claimed' USING ERRCODE = 'SC001',
                    DETAIL = p_claim_scopes[i];
            END IF;
        ELSE
            DELETE FROM unique_claims
            WHERE scope = p_claim_scopes[i] AND value = p_claim_values[i]
              AND aggregate_id = p_aggregate_id;
        END IF;
    END LOOP;

    FOR i IN 1 .. array_length(p_sequences, 1) LOOP
        INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                            payload, metadata)
        VALUES (p_aggregate_type, p_aggregate_id, p_sequences[i], p_event_types[i],
                p_event_versions[i], p_payloads[i], p_metadata)
        RETURNING events.tx_id::text::bigint, events.position INTO last_tx, last_position;
        tx := last_tx;
        event_position := last_position;
        RETURN NEXT;
    END LOOP;

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM shopcore_complete_idempotency(p_caller, p_command_type, p_idempotency_key,
            p_fingerprint, p_aggregate_type, p_aggregate_id,
            p_sequences[array_length(p_sequences, 1)], last_position, last_tx,
            array_length(p_sequences, 1));
    END IF;
END
$$;

-- A key is claimed before its command runs (a pending record, `completed` false), so that a
-- duplicate arriving meanwhile waits for the first and answers with its result instead of
-- racing it. The append completes the record in the same transaction as the events.
ALTER TABLE command_idempotency ADD COLUMN IF NOT EXISTS completed boolean NOT NULL DEFAULT true;

CREATE OR REPLACE FUNCTION shopcore_complete_idempotency(
    p_caller text, p_command_type text, p_idempotency_key text, p_fingerprint bytea,
    p_aggregate_type text, p_aggregate_id text, p_version bigint, p_position bigint,
    p_tx bigint, p_events integer
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO command_idempotency (caller, command_type, idempotency_key, fingerprint,
        aggregate_type, aggregate_id, version, position, tx_id, events_written, completed)
    VALUES (p_caller, p_command_type, p_idempotency_key, p_fingerprint, p_aggregate_type,
        p_aggregate_id, p_version, p_position, p_tx, p_events, true)
    ON CONFLICT (caller, command_type, idempotency_key) DO UPDATE SET
        fingerprint = excluded.fingerprint, aggregate_type = excluded.aggregate_type,
        aggregate_id = excluded.aggregate_id, version = excluded.version,
        position = excluded.position, tx_id = excluded.tx_id,
        events_written = excluded.events_written, completed = true;
$$;
