-- Customer read model and projector checkpoints. A transactional projector moves its
-- checkpoint in the same transaction as its rows.
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name       VARCHAR(100)    NOT NULL PRIMARY KEY,
    position   BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS customer_profiles (
    id            CHAR(36)        NOT NULL PRIMARY KEY,
    email         VARCHAR(254)    NOT NULL,
    first_name    VARCHAR(100)    NOT NULL,
    last_name     VARCHAR(100)    NOT NULL,
    phone         VARCHAR(32)     NULL,
    -- Number of events applied; equals the aggregate's version when nothing was lost or doubled.
    version       BIGINT UNSIGNED NOT NULL,
    last_position BIGINT UNSIGNED NOT NULL,
    created_at    DATETIME(6)     NOT NULL,
    updated_at    DATETIME(6)     NOT NULL,
    KEY customer_profiles_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS customer_addresses (
    customer_id CHAR(36)     NOT NULL,
    address_id  CHAR(36)     NOT NULL,
    label       VARCHAR(200) NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    line2       VARCHAR(200) NOT NULL,
    city        VARCHAR(200) NOT NULL,
    region      VARCHAR(200) NOT NULL,
    postal_code VARCHAR(200) NOT NULL,
    country     CHAR(2)      NOT NULL,
    PRIMARY KEY (customer_id, address_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS customer_segments (
    customer_id CHAR(36)    NOT NULL,
    segment     VARCHAR(64) NOT NULL,
    PRIMARY KEY (customer_id, segment),
    KEY customer_segments_segment (segment)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
