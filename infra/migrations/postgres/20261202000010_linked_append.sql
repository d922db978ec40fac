-- One command, two aggregates, one transaction: a checkout that redeems a coupon appends the
-- cart's CartCheckedOut and the promotion's PromotionRedeemed together, or neither. Each
-- stream keeps its own optimistic check — the primary key (aggregate_type, aggregate_id,
-- sequence) — so two checkouts that redeem the same promotion at the same version cannot both
-- commit: the second fails with events_pkey, reloads, and decides again against the new
-- redemption count. No lock outlives the statement; only appends to the same promotion meet.
--
-- The linked events are inserted first, then the command's own through shopcore_append (its
-- claims and idempotency record included), all in the one statement.
CREATE OR REPLACE FUNCTION shopcore_append_linked(
    p_aggregate_type  text,
    p_aggregate_id    text,
    p_sequences       bigint[],
    p_event_types     text[],
    p_event_versions  text[],
    p_payloads        jsonb[],
    p_metadata        jsonb,
    p_claim_kinds     text[],
    p_claim_scopes    text[],
    p_claim_values    text[],
    p_idempotency_key text,
    p_command_type    text,
    p_caller          text,
    p_fingerprint     bytea,
    p_linked_type     text,
    p_linked_id       text,
    p_linked_sequences bigint[],
    p_linked_event_types text[],
    p_linked_event_versions text[],
    p_linked_payloads jsonb[]
) RETURNS TABLE (tx bigint, event_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    i integer;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_linked_sequences, 1), 0) LOOP
        INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                            payload, metadata)
        VALUES (p_linked_type, p_linked_id, p_linked_sequences[i], p_linked_event_types[i],
                p_linked_event_versions[i], p_linked_payloads[i], p_metadata)
        RETURNING events.tx_id::text::bigint, events.position INTO tx, event_position;
        RETURN NEXT;
    END LOOP;
    RETURN QUERY SELECT * FROM shopcore_append(p_aggregate_type, p_aggregate_id, p_sequences,
        p_event_types, p_event_versions, p_payloads, p_metadata, p_claim_kinds, p_claim_scopes,
        p_claim_values, p_idempotency_key, p_command_type, p_caller, p_fingerprint);
END
$$;
