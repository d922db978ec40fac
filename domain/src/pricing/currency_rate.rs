//! The `CurrencyRate` aggregate: the exchange rate of one currency pair, changed by the rate
//! sync (`FxRateChanged`, published as `fx.rate.changed.v1`), and [`FxRates`], the in-memory
//! table the read side builds from those events for conversion.
//!
//! One aggregate per ordered pair; [`CurrencyRate::aggregate_id`] gives its id (`"EUR-USD"`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::errors::PricingError;
use crate::error_kind::DomainErrorKind;
use crate::money::{Currency, ExchangeRate, Money, Rate, RoundingMode};

/// What a caller may ask of a currency pair.
#[derive(Debug, Clone, PartialEq)]
pub enum CurrencyRateCommand {
    /// One `base` is worth `rate` of `quote` from `now` on. The same rate again changes nothing.
    SetFxRate {
        base: Currency,
        quote: Currency,
        rate: Rate,
        source: String,
        now: DateTime<Utc>,
    },
}

/// What happened to a currency pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CurrencyRateEvent {
    #[serde(rename_all = "camelCase")]
    FxRateChanged {
        base: Currency,
        quote: Currency,
        rate: Rate,
        previous_rate: Option<Rate>,
        source: String,
        changed_at: DateTime<Utc>,
    },
}

impl CurrencyRateEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] = &["FxRateChanged"];
}

impl DomainEvent for CurrencyRateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::FxRateChanged { .. } => "FxRateChanged".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        super::EVENT_SCHEMA_VERSION.to_owned()
    }
}

/// A rejected currency-rate command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyRateError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("quote: this aggregate holds {base}-{quote}, not the pair in the command")]
    PairMismatch { base: Currency, quote: Currency },
}

impl CurrencyRateError {
    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } => DomainErrorKind::InvalidArgument,
            Self::PairMismatch { .. } => DomainErrorKind::Conflict,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::PairMismatch { .. } => Some("quote"),
        }
    }
}

/// The current rate of one pair.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyRate {
    pub rate: Option<ExchangeRate>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl CurrencyRate {
    /// The aggregate id of a pair, e.g. `"EUR-USD"`.
    pub fn aggregate_id(base: Currency, quote: Currency) -> String {
        format!("{base}-{quote}")
    }
}

impl Aggregate for CurrencyRate {
    const TYPE: &'static str = "currency_rate";
    type Command = CurrencyRateCommand;
    type Event = CurrencyRateEvent;
    type Error = CurrencyRateError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let CurrencyRateCommand::SetFxRate {
            base,
            quote,
            rate,
            source,
            now,
        } = command;
        if base == quote {
            return Err(CurrencyRateError::InvalidField {
                field: "quote",
                reason: "must differ from base".into(),
            });
        }
        let source =
            crate::text::clean(&source).map_err(|issue| CurrencyRateError::InvalidField {
                field: "source",
                reason: issue.reason().into(),
            })?;
        if source.is_empty() || source.chars().count() > 100 {
            return Err(CurrencyRateError::InvalidField {
                field: "source",
                reason: "must be 1 to 100 characters".into(),
            });
        }
        if let Some(current) = self.rate {
            if (current.base, current.quote) != (base, quote) {
                return Err(CurrencyRateError::PairMismatch {
                    base: current.base,
                    quote: current.quote,
                });
            }
            if current.rate == rate {
                return Ok(());
            }
        }
        let event = CurrencyRateEvent::FxRateChanged {
            base,
            quote,
            rate,
            previous_rate: self.rate.map(|r| r.rate),
            source,
            changed_at: now,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let CurrencyRateEvent::FxRateChanged {
            base,
            quote,
            rate,
            changed_at,
            ..
        } = event;
        self.rate = Some(ExchangeRate { base, quote, rate });
        self.changed_at = Some(changed_at);
    }
}

/// Current rates by pair, for conversion on the read side.
#[derive(Debug, Clone, Default)]
pub struct FxRates {
    rates: HashMap<(Currency, Currency), Rate>,
}

impl FxRates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the rate of a pair.
    pub fn insert(&mut self, rate: ExchangeRate) {
        self.rates.insert((rate.base, rate.quote), rate.rate);
    }

    /// The rate to convert `from` into `to`: the direct pair, else the opposite pair (used
    /// inversely by [`ExchangeRate::convert`]).
    pub fn get(&self, from: Currency, to: Currency) -> Option<ExchangeRate> {
        let pair = |base, quote| {
            self.rates.get(&(base, quote)).map(|rate| ExchangeRate {
                base,
                quote,
                rate: *rate,
            })
        };
        pair(from, to).or_else(|| pair(to, from))
    }

    /// `money` in `to`, rounded once to the minor unit with `mode`.
    pub fn convert(
        &self,
        money: Money,
        to: Currency,
        mode: RoundingMode,
    ) -> Result<Money, PricingError> {
        if money.currency() == to {
            return Ok(money);
        }
        let rate = self.get(money.currency(), to).ok_or(PricingError::NoRate {
            from: money.currency(),
            to,
        })?;
        Ok(rate.convert(money, mode)?)
    }
}

impl FromIterator<ExchangeRate> for FxRates {
    fn from_iter<I: IntoIterator<Item = ExchangeRate>>(iter: I) -> Self {
        let mut rates = Self::new();
        iter.into_iter().for_each(|rate| rates.insert(rate));
        rates
    }
}
