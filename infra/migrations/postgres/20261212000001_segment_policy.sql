-- The segment policy's own records (`shopcore-commands segment-policy`, commands/src/segment_policy).
-- Its checkpoint is a row of relay_checkpoints under its name; these tables are keyed by that
-- name too, so a policy run under another name (a full replay beside the live one) keeps its
-- own records.

-- Every customer checkout the policy met, once (keyed by the CartCheckedOut event id, so a
-- replay never counts one twice), with its total converted into the policy's base currency
-- with the rates the log held at that checkout. base_minor is NULL when no rate converted the
-- currency: such a checkout is reported and never counted (uncounted_reason says why).
CREATE TABLE IF NOT EXISTS segment_policy_checkouts (
    policy            text        NOT NULL,
    checkout_event_id uuid        NOT NULL,
    customer_id       uuid        NOT NULL,
    cart_id           uuid        NOT NULL,
    tx_id             bigint      NOT NULL,
    position          bigint      NOT NULL,
    checked_out_at    timestamptz NOT NULL,
    total_minor       bigint      NOT NULL,
    currency          text        NOT NULL,
    base_currency     text        NOT NULL,
    base_minor        bigint,
    rates             text        NOT NULL DEFAULT '',
    uncounted_reason  text,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (policy, checkout_event_id),
    CHECK ((base_minor IS NULL) = (uncounted_reason IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS segment_policy_checkouts_by_customer
    ON segment_policy_checkouts (policy, customer_id, checked_out_at);

-- The policy's view of the FX rates: the last FxRateChanged of each pair it has read, with that
-- event's place in the log (a pair only moves forward).
CREATE TABLE IF NOT EXISTS segment_policy_fx_rates (
    policy     text        NOT NULL,
    base       text        NOT NULL,
    quote      text        NOT NULL,
    rate       text        NOT NULL,
    changed_at timestamptz NOT NULL,
    tx_id      bigint      NOT NULL,
    position   bigint      NOT NULL,
    PRIMARY KEY (policy, base, quote)
);
