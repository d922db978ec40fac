-- One append, one round trip: the unique claims, the events and the idempotency record of a
-- command in a single statement, committed on its own (autocommit), instead of BEGIN, one
-- statement each and COMMIT. Fewer statements per command is most of what a command costs the
-- server beyond the commit itself.
--
-- Errors keep their meaning for the caller:
-- * a version conflict is the primary key violation of `events` (constraint events_pkey);
-- * a concurrent use of the same idempotency key is command_idempotency_pkey;
-- * a value claimed by another aggregate raises SQLSTATE 'SC001' with the scope as DETAIL.
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
    p_command_type   text
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
        INSERT INTO command_idempotency (idempotency_key, aggregate_type, aggregate_id,
            command_type, version, position, tx_id, events_written)
        VALUES (p_idempotency_key, p_aggregate_type, p_aggregate_id, p_command_type,
            p_sequences[array_length(p_sequences, 1)], last_position, last_tx,
            array_length(p_sequences, 1));
    END IF;
END
$$;
