-- Checkpoints become (tx_id, position) pairs: the place of the last applied event in the read
-- order of the event store's log (see infra/event-store/src/log.rs). Rows of the old scheme
-- keep tx_id NULL until their projector converts them on start (it asks the event store where
-- the old position leaves off).
ALTER TABLE projection_checkpoints ADD COLUMN IF NOT EXISTS tx_id BIGINT UNSIGNED NULL AFTER name;

-- A customer row remembers the full log position of its last event, for read-your-writes.
ALTER TABLE customer_profiles ADD COLUMN IF NOT EXISTS last_tx_id BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER version;

-- Segments are case-sensitive in the domain ("VIP" and "vip" are two segments of one
-- customer): a case-insensitive collation made the primary key refuse the second and halted
-- the projector. Compare them byte by byte, as the domain does.
ALTER TABLE customer_segments
    MODIFY segment VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
