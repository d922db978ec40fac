-- The cart read models, projected from the Cart aggregate by the transactional `cart_mysql`
-- projector. Columns hold what the domain accepts: SKUs up to 64 characters and coupon codes up
-- to 32 compared byte by byte (SKUs are case-sensitive; codes are stored upper-cased), channel
-- and region up to 64 characters of any script, amounts in minor units, quantities up to the
-- u32 the domain uses. Instants are DATETIME(6) in UTC (a TIMESTAMP ends in 2038).

-- One row per cart. `state` is the domain's `Cart` as JSON, folded with `Cart::apply`, and
-- `checkout` what the `CartCheckedOut` event settled (the re-validated coupon, the time): the
-- projector folds the next event onto them, and readers build the view from them. The other
-- columns are for queries: the session's cart, the customer's open cart, the expiry sweep.
CREATE TABLE IF NOT EXISTS carts (
    cart_id            CHAR(36)        NOT NULL PRIMARY KEY,
    customer_id        CHAR(36)        NULL,
    -- SHA-256 of the session token, lower-case hex; never the token itself.
    session_token_hash CHAR(64)        CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    currency           CHAR(3)         NOT NULL,
    channel            VARCHAR(64)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    region             VARCHAR(64)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    -- open, checkedOut, expired or merged, as the events left it (an open cart past
    -- expires_at is expired for the domain and for readers).
    status             VARCHAR(16)     NOT NULL,
    coupon_code        VARCHAR(32)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    promotion_id       CHAR(36)        NULL,
    subtotal_minor     BIGINT          NOT NULL,
    discount_minor     BIGINT          NOT NULL,
    total_minor        BIGINT          NOT NULL,
    created_at         DATETIME(6)     NOT NULL,
    updated_at         DATETIME(6)     NOT NULL,
    expires_at         DATETIME(6)     NOT NULL,
    checked_out_at     DATETIME(6)     NULL,
    merged_into        CHAR(36)        NULL,
    -- The sequence of the last event applied: an event at or below it changes nothing.
    version            BIGINT UNSIGNED NOT NULL,
    last_tx_id         BIGINT UNSIGNED NOT NULL,
    last_position      BIGINT UNSIGNED NOT NULL,
    state              LONGTEXT        NOT NULL CHECK (JSON_VALID(state)),
    checkout           LONGTEXT        NULL CHECK (checkout IS NULL OR JSON_VALID(checkout)),
    KEY carts_by_session (session_token_hash, status, created_at),
    KEY carts_by_customer (customer_id, status, created_at),
    KEY carts_due (status, expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The lines of each cart with their stored prices and their share of the coupon discount.
CREATE TABLE IF NOT EXISTS cart_items (
    cart_id          CHAR(36)     NOT NULL,
    sku              VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    quantity         INT UNSIGNED NOT NULL,
    unit_price_minor BIGINT       NOT NULL,
    list_price_minor BIGINT       NOT NULL,
    currency         CHAR(3)      NOT NULL,
    -- JSON array of the price rules' UUIDs, in the order they applied.
    applied_rules    LONGTEXT     NOT NULL CHECK (JSON_VALID(applied_rules)),
    priced_at        DATETIME(6)  NOT NULL,
    line_total_minor BIGINT       NOT NULL,
    discount_minor   BIGINT       NOT NULL,
    total_minor      BIGINT       NOT NULL,
    PRIMARY KEY (cart_id, sku),
    KEY cart_items_by_sku (sku)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Each cart's activity: one row per event, with a small JSON summary (`detail`: SKU,
-- quantities, codes, and the cart's total after the event).
CREATE TABLE IF NOT EXISTS cart_events (
    cart_id     CHAR(36)        NOT NULL,
    sequence    BIGINT UNSIGNED NOT NULL,
    event_id    CHAR(36)        NOT NULL,
    event_type  VARCHAR(64)     NOT NULL,
    -- When the event was recorded in the event store.
    occurred_at DATETIME(6)     NOT NULL,
    tx_id       BIGINT UNSIGNED NOT NULL,
    position    BIGINT UNSIGNED NOT NULL,
    detail      LONGTEXT        NOT NULL CHECK (JSON_VALID(detail)),
    PRIMARY KEY (cart_id, sequence)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
