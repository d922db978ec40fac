-- Scheduled activation of promotions: when a promotion will switch itself on (its valid_from),
-- set by PromotionActivationScheduled and cleared by PromotionActivated / PromotionDeactivated.
-- The promotion scheduler finds "due and not active" through the index; the aggregate decides
-- again before anything is written, so a lagging read model activates nothing early or twice.
-- One statement, so the column and its index arrive together.
ALTER TABLE promotion_campaigns
    ADD COLUMN activation_scheduled_at DATETIME(6) NULL AFTER active,
    ADD KEY promotion_campaigns_scheduled (active, activation_scheduled_at);
