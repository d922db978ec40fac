//! Seed carts (the plan's "populate carts with random items for scenario testing"), through
//! the cart's command pipeline and priced by a pricing index this process folds from the log,
//! as the command service prices them.
//!
//! Cart `n` is drawn from `n` alone (a fixed pseudo-random sequence), so every run asks for the
//! same carts: every third is anonymous, the others belong to a seeded customer; about a
//! quarter of the customers' carts get a seeded coupon (`WELCOME10` or `VIP20`, both limited
//! per customer, so no guest cart); one in ten is in USD (SKUs the Retail book lists in USD);
//! each holds one to four lines of the seeded SKUs, one to three units each.
//! **Near expiry:** every fifth cart is created and filled through a pipeline whose TTL is
//! [`CartSeed::near_expiry`] (15 minutes by default) instead of `CART_TTL_SECONDS`, so it expires
//! that long after seeding and the expiry sweep closes it then.
//!
//! **Idempotent.** Ids derive from `n` and every step has an idempotency key, so a second run
//! replays each step and writes nothing. Once the keys are purged (a day later) the carts
//! themselves say what is done: a cart that exists is not created again, a line it holds is not
//! added again, a coupon it carries is not applied again, and a cart that is no longer open
//! (expired, checked out) is left as it is. Session tokens are random and never kept (they are
//! bearer secrets: a seeded anonymous cart is reached with a `manage_orders` token).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use futures::{stream, StreamExt as _, TryStreamExt as _};
use shopcore_domain::cart::{Cart, CartCommand, CartSettings, CartStatus, NewCart};
use shopcore_domain::error_kind::DomainErrorKind;
use shopcore_domain::money::Currency;
use shopcore_event_store::{EventStore, GlobalLog, LogPosition};
use shopcore_pricing_index::settings::PricingIndexSettings;
use uuid::Uuid;

use super::{sample_skus, seed_context, SAMPLE_CHANNELS, SAMPLE_REGIONS, SEED_NAMESPACE};
use crate::cart::{cart_pipeline, cart_snapshots};
use crate::error::CommandError;
use crate::pipeline::CommandPipeline;

/// What to seed.
#[derive(Debug, Clone)]
pub struct CartSeed {
    pub carts: usize,
    /// Seeded customers the carts may belong to (`seed_customers`' count; 0: all anonymous).
    pub customers: usize,
    /// Seeded products whose SKUs the lines come from (`seed_catalog`' count).
    pub products: usize,
    /// Limits and the TTL of the carts.
    pub settings: CartSettings,
    /// The TTL of the near-expiry carts (every fifth).
    pub near_expiry: TimeDelta,
}

/// What cart seeding wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct CartSeedReport {
    pub carts: usize,
    pub anonymous: usize,
    pub with_coupon: usize,
    pub near_expiry: usize,
    pub usd: usize,
    /// Lines the carts were asked to hold.
    pub lines: usize,
    /// Carts found expired or checked out, left as they are.
    pub closed: usize,
    /// Lines or coupons the domain refused (a SKU without a price, a coupon whose promotion
    /// has ended), left out.
    pub refused: usize,
    pub events_written: u64,
}

/// The coupons seeded carts may carry (seeded by `seed_pricing`, active).
const COUPONS: &[&str] = &["WELCOME10", "VIP20"];

/// SplitMix64: the `step`th draw of cart `n`.
fn draw(n: usize, step: u64) -> u64 {
    let mut z = (n as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(step.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One seeded cart, as drawn from its number.
#[derive(Debug, Clone)]
struct PlannedCart {
    id: Uuid,
    customer: Option<Uuid>,
    currency: Currency,
    channel: &'static str,
    region: &'static str,
    lines: Vec<(String, u32)>,
    coupon: Option<&'static str>,
    near_expiry: bool,
}

fn plan(n: usize, seed: &CartSeed) -> PlannedCart {
    let customer = (!n.is_multiple_of(3) && seed.customers > 0).then(|| {
        let owner = (draw(n, 1) % seed.customers as u64) as usize;
        Uuid::new_v5(&SEED_NAMESPACE, format!("customer-{owner}").as_bytes())
    });
    let usd = n % 10 == 7;
    let products = seed.products.max(1);
    let mut lines: Vec<(String, u32)> = Vec::new();
    for line in 0..(1 + draw(n, 2) % 4) {
        let pick = draw(n, 10 + line);
        // Every fifth product is listed in USD too: USD carts take only those.
        let product = if usd {
            ((pick % products.div_ceil(5) as u64) * 5) as usize
        } else {
            (pick % products as u64) as usize
        };
        let skus = sample_skus(product);
        let sku = skus[(pick >> 32) as usize % skus.len()].clone();
        if lines.iter().all(|(s, _)| *s != sku) {
            lines.push((sku, 1 + (draw(n, 20 + line) % 3) as u32));
        }
    }
    PlannedCart {
        id: Uuid::new_v5(&SEED_NAMESPACE, format!("cart-{n}").as_bytes()),
        customer,
        currency: if usd { Currency::USD } else { Currency::EUR },
        channel: SAMPLE_CHANNELS[n % SAMPLE_CHANNELS.len()],
        region: SAMPLE_REGIONS[(n / SAMPLE_CHANNELS.len()) % SAMPLE_REGIONS.len()],
        lines,
        // Both coupons are limited per customer: a guest cart cannot take them.
        coupon: (n % 4 == 1 && customer.is_some()).then(|| COUPONS[(n / 4) % COUPONS.len()]),
        near_expiry: n % 5 == 4,
    }
}

/// Whether a refusal is the domain's (left out) rather than a failure of the store (fatal).
fn refused(error: &CommandError) -> bool {
    matches!(
        error,
        CommandError::Rejected {
            kind: DomainErrorKind::NotFound
                | DomainErrorKind::FailedPrecondition
                | DomainErrorKind::Gone
                | DomainErrorKind::Unavailable,
            ..
        }
    )
}

/// What one cart's seeding did: (events written, closed, refused).
type Seeded = (u64, bool, usize);

async fn seed_one(
    n: usize,
    planned: &PlannedCart,
    pipeline: &CommandPipeline<Cart>,
) -> Result<Seeded, CommandError> {
    let id = planned.id.to_string();
    let step = |name: &str, command_type: &'static str| {
        seed_context(command_type, format!("seed-cart-{n}-{name}"))
    };
    let mut written = 0u64;
    let mut refusals = 0;
    let loaded = pipeline
        .store()
        .load::<Cart>(&cart_snapshots(), &id)
        .await?;
    let mut cart = loaded.aggregate;
    if loaded.version == 0 {
        let session_token = format!("cs_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let outcome = pipeline
            .execute(
                &id,
                CartCommand::CreateCart(NewCart {
                    cart_id: planned.id,
                    session_token,
                    customer_id: planned.customer,
                    currency: planned.currency,
                    channel: Some(planned.channel.to_owned()),
                    region: Some(planned.region.to_owned()),
                    now: Utc::now(),
                }),
                &step("create", "cart.create"),
            )
            .await?;
        written += u64::from(outcome.events_written);
        cart = outcome.state;
    }
    let open = |cart: &Cart| {
        cart.status == CartStatus::Open && cart.expires_at.is_none_or(|at| Utc::now() < at)
    };
    if !open(&cart) {
        return Ok((written, true, 0));
    }
    for (sku, quantity) in &planned.lines {
        if cart.lines.contains_key(sku) {
            continue;
        }
        let outcome = pipeline
            .execute(
                &id,
                CartCommand::AddItem {
                    sku: sku.clone(),
                    quantity: *quantity,
                    now: Utc::now(),
                },
                &step(&format!("add-{sku}"), "cart.add_item"),
            )
            .await;
        match outcome {
            Ok(outcome) => {
                written += u64::from(outcome.events_written);
                cart = outcome.state;
            }
            Err(error) if refused(&error) => {
                tracing::warn!(cart_id = %id, sku, %error, "seed line left out");
                refusals += 1;
            }
            Err(error) => return Err(error),
        }
    }
    if let Some(code) = planned
        .coupon
        .filter(|_| cart.coupon.is_none() && open(&cart))
    {
        let outcome = pipeline
            .execute(
                &id,
                CartCommand::ApplyCoupon {
                    code: code.to_owned(),
                    now: Utc::now(),
                },
                &step("coupon", "cart.apply_coupon"),
            )
            .await;
        match outcome {
            Ok(outcome) => written += u64::from(outcome.events_written),
            Err(error) if refused(&error) => {
                tracing::warn!(cart_id = %id, code, %error, "seed coupon left out");
                refusals += 1;
            }
            Err(error) => return Err(error),
        }
    }
    Ok((written, false, refusals))
}

/// Seeds `seed.carts` carts (see the module's documentation), 8 at a time, priced by a pricing
/// index (`pricing`'s settings) that this call folds from the log first.
pub async fn seed_carts(
    store: &EventStore,
    seed: &CartSeed,
    pricing: &PricingIndexSettings,
) -> anyhow::Result<CartSeedReport> {
    if seed.carts == 0 {
        return Ok(CartSeedReport::default());
    }
    let (index, answers) = pricing.build(GlobalLog::new(store.pool().clone()))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = tokio::spawn({
        let index = index.clone();
        async move { index.run(stopped).await }
    });
    let loaded = index
        .index()
        .wait_for(LogPosition::START, Duration::from_secs(300))
        .await;
    let outcome = match loaded {
        Ok(_) => seed_with(store, seed, answers).await,
        Err(error) => Err(anyhow::anyhow!("while loading the pricing index: {error}")),
    };
    let _ = stop.send(true);
    let _ = following.await;
    outcome
}

async fn seed_with(
    store: &EventStore,
    seed: &CartSeed,
    answers: shopcore_pricing_index::answer::PricingAnswers,
) -> anyhow::Result<CartSeedReport> {
    let near_expiry = CartSettings {
        ttl: seed.near_expiry,
        ..seed.settings
    };
    let regular = Arc::new(cart_pipeline(store.clone(), answers.clone(), seed.settings));
    let short = Arc::new(cart_pipeline(store.clone(), answers, near_expiry));
    let planned: Vec<PlannedCart> = (0..seed.carts).map(|n| plan(n, seed)).collect();
    let results: Vec<Seeded> = stream::iter(planned.iter().enumerate())
        .map(|(n, cart)| {
            let pipeline = if cart.near_expiry {
                short.clone()
            } else {
                regular.clone()
            };
            async move { seed_one(n, cart, &pipeline).await }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let mut report = CartSeedReport {
        carts: seed.carts,
        ..CartSeedReport::default()
    };
    for cart in &planned {
        report.anonymous += usize::from(cart.customer.is_none());
        report.with_coupon += usize::from(cart.coupon.is_some());
        report.near_expiry += usize::from(cart.near_expiry);
        report.usd += usize::from(cart.currency == Currency::USD);
        report.lines += cart.lines.len();
    }
    for (written, closed, refusals) in results {
        report.events_written += written;
        report.closed += usize::from(closed);
        report.refused += refusals;
    }
    Ok(report)
}
