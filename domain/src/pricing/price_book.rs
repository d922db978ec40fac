//! The `PriceBook` aggregate: base prices per SKU and currency, with a default currency from
//! which missing currencies are converted (see [`super::quote`]). Its events feed
//! `pricing.updated.v1`.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::values::clean_sku;
use crate::error_kind::DomainErrorKind;
use crate::money::{Currency, Money};

/// What a caller may ask of a price book.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceBookCommand {
    CreatePriceBook {
        price_book_id: Uuid,
        name: String,
        default_currency: Currency,
    },
    /// Sets (or replaces) the base price of a SKU in the price's currency.
    SetBasePrice {
        sku: String,
        price: Money,
    },
    RemoveBasePrice {
        sku: String,
        currency: Currency,
    },
    /// Sets many base prices at once (a price import): one `BasePriceSet` per price that
    /// changes, all or none. At most [`MAX_PRICES_PER_COMMAND`]; a SKU and currency twice is
    /// refused.
    SetBasePrices {
        prices: Vec<(String, Money)>,
    },
}

/// At most this many prices in one `SetBasePrices`.
pub const MAX_PRICES_PER_COMMAND: usize = 1_000;

/// What happened to a price book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PriceBookEvent {
    #[serde(rename_all = "camelCase")]
    PriceBookCreated {
        price_book_id: Uuid,
        name: String,
        default_currency: Currency,
    },
    #[serde(rename_all = "camelCase")]
    BasePriceSet {
        sku: String,
        price: Money,
        previous: Option<Money>,
    },
    #[serde(rename_all = "camelCase")]
    BasePriceRemoved {
        sku: String,
        currency: Currency,
        previous: Money,
    },
}

impl PriceBookEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] =
        &["PriceBookCreated", "BasePriceSet", "BasePriceRemoved"];
}

impl DomainEvent for PriceBookEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PriceBookCreated { .. } => "PriceBookCreated",
            Self::BasePriceSet { .. } => "BasePriceSet",
            Self::BasePriceRemoved { .. } => "BasePriceRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        super::EVENT_SCHEMA_VERSION.to_owned()
    }
}

/// A rejected price-book command. Each message names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceBookError {
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("price book does not exist")]
    NotCreated,
    #[error("price book already exists")]
    AlreadyCreated,
    #[error("sku: no base price for {sku} in {currency}")]
    UnknownPrice { sku: String, currency: Currency },
}

impl PriceBookError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// How adapters should report this rejection.
    pub fn kind(&self) -> DomainErrorKind {
        match self {
            Self::InvalidField { .. } => DomainErrorKind::InvalidArgument,
            Self::NotCreated | Self::UnknownPrice { .. } => DomainErrorKind::NotFound,
            Self::AlreadyCreated => DomainErrorKind::Conflict,
        }
    }

    /// The input field the rejection is about, in the API's camelCase.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidField { field, .. } => Some(field),
            Self::UnknownPrice { .. } => Some("sku"),
            Self::NotCreated | Self::AlreadyCreated => None,
        }
    }
}

/// Base prices by SKU, then by currency.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceBook {
    pub id: Option<Uuid>,
    pub name: String,
    pub default_currency: Option<Currency>,
    pub prices: BTreeMap<String, BTreeMap<Currency, Money>>,
}

impl PriceBook {
    /// The listed base price of `sku` in `currency`, if any.
    pub fn price(&self, sku: &str, currency: Currency) -> Option<Money> {
        self.prices_of(sku)
            .and_then(|by_currency| by_currency.get(&currency))
            .copied()
    }

    /// Every price the book lists for `sku`, by currency.
    pub fn prices_of(&self, sku: &str) -> Option<&BTreeMap<Currency, Money>> {
        self.prices.get(sku)
    }

    fn created(&self) -> Result<(), PriceBookError> {
        self.id.map(|_| ()).ok_or(PriceBookError::NotCreated)
    }
}

fn sku(raw: &str) -> Result<String, PriceBookError> {
    clean_sku(raw).map_err(|reason| PriceBookError::invalid("sku", reason))
}

impl Aggregate for PriceBook {
    const TYPE: &'static str = "price_book";
    type Command = PriceBookCommand;
    type Event = PriceBookEvent;
    type Error = PriceBookError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            PriceBookCommand::SetBasePrices { prices } => {
                self.created()?;
                if prices.len() > MAX_PRICES_PER_COMMAND {
                    return Err(PriceBookError::invalid(
                        "prices",
                        format!("at most {MAX_PRICES_PER_COMMAND} prices per command"),
                    ));
                }
                let mut seen = std::collections::HashSet::with_capacity(prices.len());
                let mut events = Vec::with_capacity(prices.len());
                for (raw, price) in prices {
                    let sku = sku(&raw)?;
                    if price.is_negative() {
                        return Err(PriceBookError::invalid("price", "must not be negative"));
                    }
                    if !seen.insert((sku.clone(), price.currency())) {
                        return Err(PriceBookError::invalid(
                            "prices",
                            format!("{sku} in {} appears twice", price.currency()),
                        ));
                    }
                    let previous = self.price(&sku, price.currency());
                    if previous != Some(price) {
                        events.push(PriceBookEvent::BasePriceSet {
                            sku,
                            price,
                            previous,
                        });
                    }
                }
                for event in events {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
            PriceBookCommand::CreatePriceBook {
                price_book_id,
                name,
                default_currency,
            } => {
                if self.id.is_some() {
                    return Err(PriceBookError::AlreadyCreated);
                }
                let name = crate::text::clean(&name)
                    .map_err(|issue| PriceBookError::invalid("name", issue.reason()))?;
                if name.is_empty() || name.chars().count() > 200 {
                    return Err(PriceBookError::invalid(
                        "name",
                        "must be 1 to 200 characters",
                    ));
                }
                PriceBookEvent::PriceBookCreated {
                    price_book_id,
                    name,
                    default_currency,
                }
            }
            PriceBookCommand::SetBasePrice { sku: raw, price } => {
                self.created()?;
                let sku = sku(&raw)?;
                if price.is_negative() {
                    return Err(PriceBookError::invalid("price", "must not be negative"));
                }
                let previous = self.price(&sku, price.currency());
                if previous == Some(price) {
                    return Ok(());
                }
                PriceBookEvent::BasePriceSet {
                    sku,
                    price,
                    previous,
                }
            }
            PriceBookCommand::RemoveBasePrice { sku: raw, currency } => {
                self.created()?;
                let sku = sku(&raw)?;
                let previous =
                    self.price(&sku, currency)
                        .ok_or_else(|| PriceBookError::UnknownPrice {
                            sku: sku.clone(),
                            currency,
                        })?;
                PriceBookEvent::BasePriceRemoved {
                    sku,
                    currency,
                    previous,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PriceBookEvent::PriceBookCreated {
                price_book_id,
                name,
                default_currency,
            } => {
                self.id = Some(price_book_id);
                self.name = name;
                self.default_currency = Some(default_currency);
            }
            PriceBookEvent::BasePriceSet { sku, price, .. } => {
                self.prices
                    .entry(sku)
                    .or_default()
                    .insert(price.currency(), price);
            }
            PriceBookEvent::BasePriceRemoved { sku, currency, .. } => {
                if let Some(by_currency) = self.prices.get_mut(&sku) {
                    by_currency.remove(&currency);
                    if by_currency.is_empty() {
                        self.prices.remove(&sku);
                    }
                }
            }
        }
    }
}
