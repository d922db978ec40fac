//! The policy's [`LogConsumer`]: what it does with one batch of the log.
//!
//! 1. **Record** (one transaction): every `FxRateChanged` updates the policy's FX view; every
//!    `CartCheckedOut` with a customer is recorded with its total converted into the base
//!    currency with the rates as the log held them at that checkout (a currency no rate
//!    converts is recorded as uncounted, logged at `error` and counted). Guest checkouts are
//!    ignored. Recording again writes nothing ([`super::ledger`]).
//! 2. **Recalculate**, checkout by checkout in log order: the customer's spend over the window
//!    from the records up to this checkout, sent as `RecalculateSegments` through the
//!    customer's command pipeline (actor [`super::ACTOR`], causation the checkout's event id).
//!    The customer writes nothing for a checkout it recalculated for already.
//! 3. **Checkpoint**: moved to the batch's last event, or, when a recalculation fails, to the
//!    event before it.
//!
//! A crash anywhere repeats at most the batch: its records are there already and its
//! recalculations are no-ops, so every checkout is recalculated exactly once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shopcore_domain::cart::CartEvent;
use shopcore_domain::customer::{
    CheckoutCause, Customer, CustomerCommand, LogOrder, SegmentRecalculation, Spend, SpendRule,
};
use shopcore_domain::error_kind::DomainErrorKind;
use shopcore_domain::money::{Currency, ExchangeRate, Money, RoundingMode};
use shopcore_domain::pricing::{CurrencyRateEvent, FxRates};
use shopcore_event_store::tail::{LogConsumer, TailError};
use shopcore_event_store::{LogPosition, StoredEvent};
use uuid::Uuid;

use super::ledger::{CheckoutRecord, SpendLedger};
use super::{metrics, ACTOR, COMMAND_TYPE};
use crate::error::CommandError;
use crate::metadata::CommandContext;
use crate::pipeline::CommandPipeline;

/// Tries per recalculation when another writer appends to the customer first.
const ATTEMPTS: u32 = 5;

/// One event of the batch the policy cares about.
enum Relevant {
    Rate {
        rate: ExchangeRate,
        changed_at: DateTime<Utc>,
    },
    Checkout {
        cart_id: Uuid,
        customer_id: Uuid,
        total: Money,
        checked_out_at: DateTime<Utc>,
    },
}

/// What became of one checkout's recalculation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Recalculated,
    AlreadyApplied,
    UnknownCustomer,
    Rejected,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Recalculated => "recalculated",
            Self::AlreadyApplied => "already_applied",
            Self::UnknownCustomer => "unknown_customer",
            Self::Rejected => "rejected",
        }
    }
}

pub(super) struct SegmentRecalculator {
    pub(super) name: String,
    pub(super) rule: SpendRule,
    pub(super) fx_base: Option<Currency>,
    pub(super) ledger: SpendLedger,
    pub(super) pipeline: CommandPipeline<Customer>,
    /// The FX view as of the last recorded batch; loaded from the records at the first
    /// checkpoint read.
    pub(super) rates: Mutex<Option<FxRates>>,
    /// Uncounted checkouts in the records (for `/readyz`), once loaded.
    pub(super) uncounted: Arc<AtomicI64>,
}

fn undecodable(event: &StoredEvent, error: serde_json::Error) -> TailError {
    TailError::permanent(
        "undecodable",
        format!(
            "{} {} of {} {}: {error}",
            event.event_type, event.event_id, event.aggregate_type, event.aggregate_id
        ),
    )
}

/// The event, if the policy cares about it; guest checkouts are counted and left out.
fn relevant(event: &StoredEvent) -> Result<Option<Relevant>, TailError> {
    match (event.aggregate_type.as_str(), event.event_type.as_str()) {
        ("cart", "CartCheckedOut") => {
            let decoded: CartEvent =
                serde_json::from_value(event.payload.clone()).map_err(|e| undecodable(event, e))?;
            let CartEvent::CartCheckedOut {
                cart_id,
                customer_id,
                total,
                checked_out_at,
                ..
            } = decoded
            else {
                return Ok(None);
            };
            let Some(customer_id) = customer_id else {
                metrics::CHECKOUTS.with_label_values(&["guest"]).inc();
                return Ok(None);
            };
            Ok(Some(Relevant::Checkout {
                cart_id,
                customer_id,
                total,
                checked_out_at,
            }))
        }
        ("currency_rate", "FxRateChanged") => {
            let CurrencyRateEvent::FxRateChanged {
                base,
                quote,
                rate,
                changed_at,
                ..
            } = serde_json::from_value(event.payload.clone()).map_err(|e| undecodable(event, e))?;
            Ok(Some(Relevant::Rate {
                rate: ExchangeRate { base, quote, rate },
                changed_at,
            }))
        }
        _ => Ok(None),
    }
}

/// `total` in `base`, with the rates used, or why it cannot be converted.
fn convert(rates: &FxRates, total: Money, base: Currency) -> Result<(Money, String), String> {
    if total.currency() == base {
        return Ok((total, String::new()));
    }
    let conversion = rates
        .conversion(total.currency(), base)
        .ok_or_else(|| format!("no exchange rate from {} to {base}", total.currency()))?;
    let converted = conversion
        .convert(total, RoundingMode::HalfEven)
        .map_err(|e| format!("{} to {base}: {e}", total.currency()))?;
    let used = conversion
        .rates
        .iter()
        .map(|r| format!("{}-{}={}", r.base, r.quote, r.rate))
        .collect::<Vec<_>>()
        .join(",");
    Ok((converted, used))
}

impl SegmentRecalculator {
    fn base_currency(&self) -> Currency {
        self.rule.threshold.currency()
    }

    /// The FX view, loaded from the records when this process has none yet.
    async fn current_rates(&self) -> Result<FxRates, TailError> {
        if let Some(rates) = self.rates.lock().expect("rates lock").clone() {
            return Ok(rates);
        }
        let rates = self.ledger.rates(self.fx_base).await?;
        let uncounted = self.ledger.uncounted().await?;
        self.uncounted.store(uncounted, Ordering::SeqCst);
        metrics::UNCOUNTED_RECORDED.set(uncounted);
        tracing::info!(policy = %self.name, pairs = rates.len(), uncounted, "FX view loaded");
        *self.rates.lock().expect("rates lock") = Some(rates.clone());
        Ok(rates)
    }

    /// Step 1: the batch's rates and checkouts, in one transaction. Returns the checkouts to
    /// recalculate, with their index in the batch.
    async fn record(
        &self,
        events: &[StoredEvent],
        relevant: Vec<(usize, Relevant)>,
    ) -> Result<Vec<(usize, CheckoutRecord)>, TailError> {
        let mut rates = self.current_rates().await?;
        let mut changes = Vec::new();
        let mut checkouts = Vec::new();
        for (index, item) in relevant {
            let event = &events[index];
            match item {
                Relevant::Rate { rate, changed_at } => {
                    changes.push((rate, changed_at, event.log_position()));
                    rates.insert_at(rate, changed_at);
                }
                Relevant::Checkout {
                    cart_id,
                    customer_id,
                    total,
                    checked_out_at,
                } => checkouts.push((
                    index,
                    CheckoutRecord {
                        event_id: event.event_id,
                        customer_id,
                        cart_id,
                        order: event.log_position(),
                        checked_out_at,
                        total,
                        converted: convert(&rates, total, self.base_currency()),
                    },
                )),
            }
        }
        let records: Vec<CheckoutRecord> = checkouts.iter().map(|(_, r)| r.clone()).collect();
        let mut tx = self.ledger.begin().await?;
        self.ledger.record_rates(&mut tx, &changes).await?;
        let new = self
            .ledger
            .record_checkouts(&mut tx, &records, self.base_currency())
            .await?;
        tx.commit().await.map_err(super::ledger::store_failure)?;
        let uncounted: Vec<CheckoutRecord> = records
            .into_iter()
            .filter(|r| r.converted.is_err() && new.contains(&r.event_id))
            .collect();
        *self.rates.lock().expect("rates lock") = Some(rates);
        for record in uncounted {
            let reason = record.converted.as_ref().err().cloned().unwrap_or_default();
            metrics::UNCOUNTED
                .with_label_values(&[record.total.currency().code()])
                .inc();
            let now = self.uncounted.fetch_add(1, Ordering::SeqCst) + 1;
            metrics::UNCOUNTED_RECORDED.set(now);
            tracing::error!(
                policy = %self.name,
                event_id = %record.event_id,
                cart_id = %record.cart_id,
                customer_id = %record.customer_id,
                currency = record.total.currency().code(),
                amount_minor = record.total.amount(),
                %reason,
                "checkout NOT counted in the customer's spend: its currency cannot be converted; set the FX rate (later checkouts will not count this one either)"
            );
        }
        Ok(checkouts)
    }

    /// Step 2 for one checkout: the spend up to it, and the customer command.
    async fn recalculate(
        &self,
        event: &StoredEvent,
        checkout: &CheckoutRecord,
    ) -> Result<Outcome, TailError> {
        let window_start = self.rule.window_start(checkout.checked_out_at);
        let sum = self
            .ledger
            .spend(
                checkout.customer_id,
                checkout.order,
                window_start,
                self.base_currency(),
            )
            .await?;
        let recalculation = SegmentRecalculation {
            cause: CheckoutCause {
                event_id: checkout.event_id,
                log_order: LogOrder::new(checkout.order.tx, checkout.order.position),
                checked_out_at: checkout.checked_out_at,
            },
            rule: self.rule.clone(),
            spend: Spend {
                total: Money::new(sum.total_minor, self.base_currency()),
                counted: sum.counted,
                uncounted: sum.uncounted,
            },
        };
        let mut context = CommandContext::new(
            COMMAND_TYPE,
            event
                .metadata_str("correlationId")
                .map_or_else(|| event.event_id.to_string(), str::to_owned),
        );
        context.causation_id = Some(event.event_id.to_string());
        context.traceparent = event.metadata_str("traceparent").map(str::to_owned);
        context.actor = ACTOR.to_owned();
        let customer = checkout.customer_id.to_string();
        for attempt in 0..ATTEMPTS {
            let command = CustomerCommand::RecalculateSegments(recalculation.clone());
            match self.pipeline.execute(&customer, command, &context).await {
                Ok(done) => {
                    let outcome = if done.events_written > 0 {
                        Outcome::Recalculated
                    } else {
                        Outcome::AlreadyApplied
                    };
                    tracing::info!(
                        policy = %self.name,
                        checkout_event_id = %checkout.event_id,
                        customer_id = %customer,
                        spend_minor = sum.total_minor,
                        counted = sum.counted,
                        uncounted = sum.uncounted,
                        member = done.state.segments.contains(&self.rule.segment),
                        outcome = outcome.label(),
                        "segments recalculated after a checkout"
                    );
                    return Ok(outcome);
                }
                Err(CommandError::VersionConflict { current, .. }) => {
                    metrics::CONFLICTS.inc();
                    tracing::info!(customer_id = %customer, current, attempt, "another writer appended to the customer first; reloading");
                }
                Err(CommandError::Rejected {
                    kind: DomainErrorKind::NotFound,
                    message,
                    ..
                }) => {
                    tracing::warn!(policy = %self.name, checkout_event_id = %checkout.event_id, customer_id = %customer, reason = %message, "checkout of a customer that does not exist; no segment recalculated");
                    return Ok(Outcome::UnknownCustomer);
                }
                Err(CommandError::Rejected { message, .. }) => {
                    tracing::error!(policy = %self.name, checkout_event_id = %checkout.event_id, customer_id = %customer, reason = %message, "the customer refused the segment recalculation");
                    return Ok(Outcome::Rejected);
                }
                Err(error) => return Err(TailError::transient("command", error)),
            }
        }
        Err(TailError::transient(
            "conflict",
            format!("customer {customer}: version conflicts on every attempt"),
        ))
    }
}

#[async_trait]
impl LogConsumer for SegmentRecalculator {
    fn name(&self) -> &str {
        &self.name
    }

    /// The checkpoint; the first call also loads the FX view and the uncounted count.
    async fn checkpoint(&self) -> Result<LogPosition, TailError> {
        let checkpoint = self.ledger.checkpoint().await?;
        self.current_rates().await?;
        Ok(checkpoint)
    }

    async fn apply(
        &self,
        checkpoint: LogPosition,
        events: &[StoredEvent],
    ) -> Result<(), TailError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let mut relevant_events = Vec::new();
        for (index, event) in events.iter().enumerate() {
            if let Some(item) = relevant(event)? {
                relevant_events.push((index, item));
            }
        }
        if !relevant_events.is_empty() {
            let checkouts = self.record(events, relevant_events).await?;
            for (index, checkout) in checkouts {
                match self.recalculate(&events[index], &checkout).await {
                    Ok(outcome) => metrics::CHECKOUTS
                        .with_label_values(&[outcome.label()])
                        .inc(),
                    Err(error) => {
                        if index > 0 {
                            self.ledger
                                .save_checkpoint(checkpoint, events[index - 1].log_position())
                                .await?;
                        }
                        return Err(error);
                    }
                }
            }
        }
        self.ledger
            .save_checkpoint(checkpoint, last.log_position())
            .await
    }

    async fn recover(&self, error: &TailError) {
        // The records may have committed without this process seeing it: read them again.
        if error.reason() == "store" {
            *self.rates.lock().expect("rates lock") = None;
        }
    }
}
