-- The pricing read models, projected from the PriceBook, PriceRule, Promotion and CurrencyRate
-- aggregates by the transactional `pricing_mysql` projector. Columns hold what the domain
-- accepts: names up to 200 characters, SKUs up to 64 and category keys up to 128 compared
-- byte by byte (the domain's SKUs and codes are case-sensitive values), amounts in minor units,
-- rates and percentages as the exact decimal strings the domain writes.

-- The version of every pricing aggregate the rows reflect: an event at or below it was
-- applied already, one beyond the next is a gap that halts the projector.
CREATE TABLE IF NOT EXISTS pricing_versions (
    aggregate_type VARCHAR(32)  NOT NULL,
    aggregate_id   VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    version        BIGINT UNSIGNED NOT NULL,
    last_tx_id     BIGINT UNSIGNED NOT NULL,
    last_position  BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS price_books (
    price_book_id    CHAR(36)     NOT NULL PRIMARY KEY,
    name             VARCHAR(200) NOT NULL,
    default_currency CHAR(3)      NOT NULL,
    created_at       DATETIME(6)  NOT NULL,
    updated_at       DATETIME(6)  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Base prices: one per book, SKU and currency.
CREATE TABLE IF NOT EXISTS price_book_prices (
    price_book_id CHAR(36)    NOT NULL,
    sku           VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    currency      CHAR(3)     NOT NULL,
    amount_minor  BIGINT      NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (price_book_id, sku, currency),
    KEY price_book_prices_by_sku (sku, currency)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Rules: the columns a back office filters by, and the whole definition as the domain wrote it.
CREATE TABLE IF NOT EXISTS price_rules (
    rule_id     CHAR(36)     NOT NULL PRIMARY KEY,
    name        VARCHAR(200) NOT NULL,
    priority    INT          NOT NULL,
    exclusive   BOOLEAN      NOT NULL,
    action_type VARCHAR(16)  NOT NULL,
    currency    CHAR(3)      NULL,
    valid_from  DATETIME(6)  NULL,
    valid_until DATETIME(6)  NULL,
    definition  LONGTEXT     NOT NULL CHECK (JSON_VALID(definition)),
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    -- Set when the rule is removed; a removed rule applies nowhere but keeps its row.
    removed_at  DATETIME(6)  NULL,
    KEY price_rules_live (removed_at, priority)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- What each live rule targets, for "which rules touch this SKU / category".
CREATE TABLE IF NOT EXISTS price_rule_targets (
    rule_id CHAR(36)     NOT NULL,
    kind    VARCHAR(8)   NOT NULL,
    target  VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (rule_id, kind, target),
    KEY price_rule_targets_by_target (kind, target)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS promotion_campaigns (
    promotion_id             CHAR(36)     NOT NULL PRIMARY KEY,
    name                     VARCHAR(200) NOT NULL,
    discount                 LONGTEXT     NOT NULL CHECK (JSON_VALID(discount)),
    valid_from               DATETIME(6)  NOT NULL,
    valid_until              DATETIME(6)  NOT NULL,
    usage_limit_total        INT UNSIGNED NULL,
    usage_limit_per_customer INT UNSIGNED NULL,
    active                   BOOLEAN      NOT NULL,
    redemptions              INT UNSIGNED NOT NULL,
    created_at               DATETIME(6)  NOT NULL,
    updated_at               DATETIME(6)  NOT NULL,
    KEY promotion_campaigns_active (active, valid_from, valid_until)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Coupon codes, unique across promotions (the event store reserves them; this mirrors it).
CREATE TABLE IF NOT EXISTS promotion_coupon_codes (
    code         VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    promotion_id CHAR(36)    NOT NULL,
    KEY promotion_coupon_codes_by_promotion (promotion_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS currency_rates (
    base          CHAR(3)      NOT NULL,
    quote         CHAR(3)      NOT NULL,
    rate          VARCHAR(40)  NOT NULL,
    previous_rate VARCHAR(40)  NULL,
    source        VARCHAR(100) NOT NULL,
    changed_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (base, quote)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
