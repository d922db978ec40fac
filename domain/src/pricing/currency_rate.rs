//! The `CurrencyRate` aggregate: the exchange rate of one currency pair, changed by the rate
//! sync (`FxRateChanged`, published as `fx.rate.changed.v1`), and [`FxRates`], the in-memory
//! table the read side builds from those events for conversion: each pair with the instant it
//! took effect (the event's `changed_at`), cross rates through a base currency, and
//! [`FxConversion`] saying which rates a conversion used and how old the oldest is.
//!
//! One aggregate per ordered pair; [`CurrencyRate::aggregate_id`] gives its id (`"EUR-USD"`).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::errors::PricingError;
use crate::error_kind::DomainErrorKind;
use crate::money::{
    convert_through, Currency, ExchangeRate, Money, MoneyError, Rate, RoundingMode,
};

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

/// Whether a rate that took effect at `as_of` is stale at `now`: older than `stale_after`
/// (strictly). A rate from the future (a clock ahead) is not stale.
pub fn rate_is_stale(as_of: DateTime<Utc>, now: DateTime<Utc>, stale_after: Duration) -> bool {
    now.signed_duration_since(as_of) > stale_after
}

/// How money is converted from one currency into another: the rates used, in order, and how
/// old the oldest of them is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FxConversion {
    pub from: Currency,
    pub to: Currency,
    /// One pair (`from`–`to`, direct or opposite), or two through `via`: `from`–`via`, then
    /// `via`–`to`. Each is used directly from its `base`, inversely from its `quote`.
    pub rates: Vec<ExchangeRate>,
    /// The base currency the conversion went through when no pair links `from` and `to`.
    pub via: Option<Currency>,
    /// When the oldest rate used took effect.
    pub rates_as_of: DateTime<Utc>,
}

impl FxConversion {
    /// `money` (in `from`) in `to`: exact through every rate, rounded once at the end to the
    /// minor unit of `to` with `mode`.
    pub fn convert(&self, money: Money, mode: RoundingMode) -> Result<Money, PricingError> {
        if money.currency() != self.from {
            return Err(MoneyError::CurrencyMismatch {
                left: money.currency(),
                right: self.from,
            }
            .into());
        }
        Ok(convert_through(money, &self.rates, mode)?)
    }

    /// Whether the oldest rate used is older than `stale_after` at `now`.
    pub fn is_stale(&self, now: DateTime<Utc>, stale_after: Duration) -> bool {
        rate_is_stale(self.rates_as_of, now, stale_after)
    }
}

/// Current rates by pair with the instant each took effect, for conversion on the read side.
///
/// A conversion uses the direct pair, else the opposite pair inversely, else — when the table
/// has a base currency ([`FxRates::with_base`]; the ECB quotes everything against EUR) — the
/// cross rate through the base: `from`→base→`to`, each leg direct or inverse, multiplied
/// exactly and rounded once.
#[derive(Debug, Clone, Default)]
pub struct FxRates {
    rates: HashMap<(Currency, Currency), (Rate, DateTime<Utc>)>,
    base: Option<Currency>,
}

impl FxRates {
    /// A table without a base currency: only direct and opposite pairs convert.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table that converts between two currencies without a pair through `base`.
    pub fn with_base(base: Currency) -> Self {
        Self {
            rates: HashMap::new(),
            base: Some(base),
        }
    }

    /// The base currency cross rates go through, if any.
    pub fn base(&self) -> Option<Currency> {
        self.base
    }

    /// Sets (or, with `None`, removes) the base currency cross rates go through.
    pub fn set_base(&mut self, base: Option<Currency>) {
        self.base = base;
    }

    /// Adds or replaces the rate of a pair, of unknown age: it counts as taken effect at the
    /// Unix epoch, so a price converted with it is reported stale. Callers that know when the
    /// rate changed (the event's `changed_at`) use [`FxRates::insert_at`].
    pub fn insert(&mut self, rate: ExchangeRate) {
        self.insert_at(rate, DateTime::<Utc>::UNIX_EPOCH);
    }

    /// Adds or replaces the rate of a pair, in effect since `as_of`.
    pub fn insert_at(&mut self, rate: ExchangeRate, as_of: DateTime<Utc>) {
        self.rates
            .insert((rate.base, rate.quote), (rate.rate, as_of));
    }

    /// Pairs in the table.
    pub fn len(&self) -> usize {
        self.rates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }

    /// The rate of the pair and when it took effect.
    fn pair(&self, base: Currency, quote: Currency) -> Option<(ExchangeRate, DateTime<Utc>)> {
        self.rates.get(&(base, quote)).map(|(rate, as_of)| {
            (
                ExchangeRate {
                    base,
                    quote,
                    rate: *rate,
                },
                *as_of,
            )
        })
    }

    /// The direct pair, else the opposite one.
    fn linking(&self, from: Currency, to: Currency) -> Option<(ExchangeRate, DateTime<Utc>)> {
        self.pair(from, to).or_else(|| self.pair(to, from))
    }

    /// The rate to convert `from` into `to`: the direct pair, else the opposite pair (used
    /// inversely by [`ExchangeRate::convert`]). Cross rates are [`FxRates::conversion`]'s.
    pub fn get(&self, from: Currency, to: Currency) -> Option<ExchangeRate> {
        self.linking(from, to).map(|(rate, _)| rate)
    }

    /// When the rate [`FxRates::get`] returns took effect.
    pub fn as_of(&self, from: Currency, to: Currency) -> Option<DateTime<Utc>> {
        self.linking(from, to).map(|(_, as_of)| as_of)
    }

    /// How to convert `from` into `to`: the pair linking them, else the two pairs through the
    /// base currency; `None` when neither exists (or `from == to`: nothing to convert).
    pub fn conversion(&self, from: Currency, to: Currency) -> Option<FxConversion> {
        if from == to {
            return None;
        }
        if let Some((rate, as_of)) = self.linking(from, to) {
            return Some(FxConversion {
                from,
                to,
                rates: vec![rate],
                via: None,
                rates_as_of: as_of,
            });
        }
        let base = self.base.filter(|base| *base != from && *base != to)?;
        let (first, first_as_of) = self.linking(from, base)?;
        let (second, second_as_of) = self.linking(base, to)?;
        Some(FxConversion {
            from,
            to,
            rates: vec![first, second],
            via: Some(base),
            rates_as_of: first_as_of.min(second_as_of),
        })
    }

    /// `money` in `to`, rounded once to the minor unit with `mode` (through the base currency
    /// when no pair links the two).
    pub fn convert(
        &self,
        money: Money,
        to: Currency,
        mode: RoundingMode,
    ) -> Result<Money, PricingError> {
        if money.currency() == to {
            return Ok(money);
        }
        self.conversion(money.currency(), to)
            .ok_or(PricingError::NoRate {
                from: money.currency(),
                to,
            })?
            .convert(money, mode)
    }
}

/// Rates of unknown age (see [`FxRates::insert`]).
impl FromIterator<ExchangeRate> for FxRates {
    fn from_iter<I: IntoIterator<Item = ExchangeRate>>(iter: I) -> Self {
        let mut rates = Self::new();
        iter.into_iter().for_each(|rate| rates.insert(rate));
        rates
    }
}

/// Rates with the instant each took effect.
impl FromIterator<(ExchangeRate, DateTime<Utc>)> for FxRates {
    fn from_iter<I: IntoIterator<Item = (ExchangeRate, DateTime<Utc>)>>(iter: I) -> Self {
        let mut rates = Self::new();
        iter.into_iter()
            .for_each(|(rate, as_of)| rates.insert_at(rate, as_of));
        rates
    }
}
