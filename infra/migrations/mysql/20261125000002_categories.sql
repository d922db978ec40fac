-- The catalog's category tree (the taxonomy), projected from the one Taxonomy aggregate.
-- Keys are lower-case ASCII letters, digits and '-' (no two differ only by case, so the
-- case-insensitive collation cannot merge two); `path` is the keys from the root down, joined
-- by '/', so a subtree is `path = 'a/b' OR path LIKE 'a/b/%'`.
CREATE TABLE IF NOT EXISTS categories (
    category_key VARCHAR(128)  NOT NULL PRIMARY KEY,
    name         VARCHAR(100)  NOT NULL,
    parent_key   VARCHAR(128)  NULL,
    path         VARCHAR(1031) NOT NULL,
    depth        TINYINT UNSIGNED NOT NULL,
    position     INT UNSIGNED  NOT NULL,
    updated_at   DATETIME(6)   NOT NULL,
    KEY categories_children (parent_key, position, category_key),
    KEY categories_path (path(255))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The version of the tree the rows reflect (the Taxonomy aggregate's version).
CREATE TABLE IF NOT EXISTS category_tree (
    id            TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    version       BIGINT UNSIGNED  NOT NULL,
    last_tx_id    BIGINT UNSIGNED  NOT NULL,
    last_position BIGINT UNSIGNED  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
