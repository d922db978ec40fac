//! What the pricing index holds, folded from the log with the aggregates' own `apply`: every
//! price book, every live price rule (compiled into one [`PriceRuleEvaluator`]), the current
//! exchange rates, and for each SKU of the catalog the categories of its product.
//!
//! Events arrive once each in log order; a gap or a repeat in an aggregate's sequence is a
//! defect of the log or of this fold and is refused (the tail loop then halts, loudly), never
//! papered over.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;
use shopcore_domain::catalog::ProductEvent;
use shopcore_domain::money::{Currency, Money};
use shopcore_domain::pricing::{
    quote_price, CurrencyRate, CurrencyRateEvent, FxRates, PriceBook, PriceBookEvent, PriceRule,
    PriceRuleEvaluator, PriceRuleEvent, PriceRuleSpec, PricingContext, PricingError, SkuPrice,
};
use shopcore_event_store::tail::TailError;
use shopcore_event_store::StoredEvent;
use uuid::Uuid;

/// The aggregate types the index folds.
pub const AGGREGATE_TYPES: &[&str] = &["price_book", "price_rule", "currency_rate", "product"];

/// A product as far as pricing cares: its categories and the SKUs of its variants.
#[derive(Debug, Default, Clone)]
struct ProductSkus {
    categories: Arc<[String]>,
    variants: HashMap<Uuid, String>,
}

/// A price book as a query finds it: its id, the book, and what it lists for the SKU asked.
#[derive(Debug, Clone, Copy)]
pub struct BookListing<'a> {
    pub id: Uuid,
    pub book: &'a PriceBook,
    pub prices: Option<&'a BTreeMap<Currency, Money>>,
}

/// The folded state; see the module documentation.
#[derive(Debug, Default)]
pub struct IndexState {
    books: HashMap<Uuid, PriceBook>,
    /// Book ids in creation (log) order: the default search order for a SKU's base price.
    book_order: Vec<Uuid>,
    rules: HashMap<Uuid, PriceRule>,
    evaluator: Arc<PriceRuleEvaluator>,
    rates: FxRates,
    products: HashMap<Uuid, ProductSkus>,
    sku_product: HashMap<String, Uuid>,
    versions: HashMap<(String, String), u64>,
}

/// What one batch changed, so that the evaluator is rebuilt once per batch, not per event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Changed {
    pub rules: bool,
}

fn decode<E: DeserializeOwned>(stored: &StoredEvent) -> Result<E, TailError> {
    serde_json::from_value(stored.payload.clone()).map_err(|error| {
        TailError::permanent(
            "undecodable",
            format!(
                "{} {} of {} {}: {error}",
                stored.event_type, stored.sequence, stored.aggregate_type, stored.aggregate_id
            ),
        )
    })
}

impl IndexState {
    /// An empty state whose cross rates go through `base` (ECB's rates: EUR).
    pub fn with_fx_base(base: Option<shopcore_domain::money::Currency>) -> Self {
        let mut state = Self::default();
        state.rates.set_base(base);
        state
    }

    /// Folds one event of the log. Events of other aggregates are ignored.
    pub fn apply(&mut self, stored: &StoredEvent, changed: &mut Changed) -> Result<(), TailError> {
        if !AGGREGATE_TYPES.contains(&stored.aggregate_type.as_str()) {
            return Ok(());
        }
        let key = (stored.aggregate_type.clone(), stored.aggregate_id.clone());
        let current = self.versions.get(&key).copied().unwrap_or(0);
        if stored.sequence != current + 1 {
            return Err(TailError::permanent(
                "out_of_step",
                format!(
                    "{} {} is at version {current} in the pricing index, the event is number {}",
                    stored.aggregate_type, stored.aggregate_id, stored.sequence
                ),
            ));
        }
        let id = || {
            Uuid::parse_str(&stored.aggregate_id).map_err(|_| {
                TailError::permanent(
                    "undecodable",
                    format!(
                        "{} id {:?} is not a UUID",
                        stored.aggregate_type, stored.aggregate_id
                    ),
                )
            })
        };
        match stored.aggregate_type.as_str() {
            "price_book" => {
                let event: PriceBookEvent = decode(stored)?;
                let id = id()?;
                let book = self.books.entry(id).or_insert_with(|| {
                    self.book_order.push(id);
                    PriceBook::default()
                });
                book.apply(event);
            }
            "price_rule" => {
                let event: PriceRuleEvent = decode(stored)?;
                self.rules.entry(id()?).or_default().apply(event);
                changed.rules = true;
            }
            "currency_rate" => {
                let event: CurrencyRateEvent = decode(stored)?;
                let mut pair = CurrencyRate::default();
                pair.apply(event);
                if let (Some(rate), Some(at)) = (pair.rate, pair.changed_at) {
                    self.rates.insert_at(rate, at);
                }
            }
            "product" => {
                let event: ProductEvent = decode(stored)?;
                self.apply_product(id()?, event);
            }
            _ => {}
        }
        self.versions.insert(key, stored.sequence);
        Ok(())
    }

    fn apply_product(&mut self, product_id: Uuid, event: ProductEvent) {
        let product = self.products.entry(product_id).or_default();
        match event {
            ProductEvent::ProductCreated { categories, .. }
            | ProductEvent::ProductCategoriesAssigned { categories, .. } => {
                product.categories = categories.into();
            }
            ProductEvent::ProductVariantAdded { variant } => {
                self.sku_product.insert(variant.sku.clone(), product_id);
                product.variants.insert(variant.variant_id, variant.sku);
            }
            ProductEvent::ProductVariantUpdated {
                variant_id,
                changes,
            } => {
                let new_sku = changes
                    .iter()
                    .find(|c| c.field == "sku")
                    .and_then(shopcore_domain::catalog::values::FieldChange::new_text);
                if let (Some(sku), Some(old)) = (new_sku, product.variants.get_mut(&variant_id)) {
                    if self.sku_product.get(old.as_str()) == Some(&product_id) {
                        self.sku_product.remove(old.as_str());
                    }
                    self.sku_product.insert(sku.clone(), product_id);
                    *old = sku;
                }
            }
            ProductEvent::ProductVariantRemoved { variant_id, .. } => {
                if let Some(sku) = product.variants.remove(&variant_id) {
                    if self.sku_product.get(sku.as_str()) == Some(&product_id) {
                        self.sku_product.remove(sku.as_str());
                    }
                }
            }
            _ => {}
        }
    }

    /// Recompiles the evaluator after a batch that changed rules.
    pub fn finish(&mut self, changed: Changed) {
        if changed.rules {
            self.evaluator = Arc::new(PriceRuleEvaluator::new(self.live_rules()));
        }
    }

    /// Every live rule as the evaluator takes it.
    pub fn live_rules(&self) -> Vec<PriceRuleSpec> {
        self.rules.values().filter_map(PriceRule::spec).collect()
    }

    pub fn evaluator(&self) -> &Arc<PriceRuleEvaluator> {
        &self.evaluator
    }

    pub fn rates(&self) -> &FxRates {
        &self.rates
    }

    pub fn rule(&self, id: Uuid) -> Option<&PriceRule> {
        self.rules.get(&id)
    }

    /// The categories of the product that has `sku` as a variant (empty when the catalog
    /// does not know the SKU).
    pub fn categories(&self, sku: &str) -> Arc<[String]> {
        self.sku_product
            .get(sku)
            .and_then(|id| self.products.get(id))
            .map(|p| p.categories.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// The book `id`, or, without one, the earliest-created book that lists `sku` in any
    /// currency; with the prices it lists for `sku` (found once: the base price is resolved
    /// from them).
    pub fn book(&self, id: Option<Uuid>, sku: &str) -> Option<BookListing<'_>> {
        match id {
            Some(id) => self.books.get(&id).map(|book| BookListing {
                id,
                book,
                prices: book.prices_of(sku),
            }),
            None => self.book_order.iter().find_map(|id| {
                let book = self.books.get(id)?;
                let prices = book.prices_of(sku)?;
                Some(BookListing {
                    id: *id,
                    book,
                    prices: Some(prices),
                })
            }),
        }
    }

    /// The quote for `ctx` from book `book` (or the default search, see [`Self::book`]) with
    /// the live rules; `None` when no such book (or none listing the SKU) exists.
    pub fn quote(
        &self,
        book: Option<Uuid>,
        ctx: &PricingContext,
    ) -> Option<(Uuid, Result<SkuPrice, PricingError>)> {
        let listing = self.book(book, &ctx.sku)?;
        Some((
            listing.id,
            quote_price(listing.book, &self.rates, &self.evaluator, ctx),
        ))
    }

    /// Counts for `/readyz` and metrics: books, live rules, SKUs the catalog has.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.books.len(),
            self.evaluator.rules().len(),
            self.sku_product.len(),
        )
    }
}
