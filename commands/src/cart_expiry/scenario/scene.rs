//! What the cart TTL scenario does to one cart and sees of it: opening it in the deployment's
//! event store, reading its MySQL row, Redis key and events, touching it over gRPC, and asking
//! the aggregate for a decision without writing it.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate as _;
use shopcore_domain::cart::{Cart, CartCommand, NewCart};
use shopcore_domain::money::Currency;
use shopcore_event_store::EventStore;
use shopcore_projections::cart::read_model::CartReadModel;
use shopcore_projections::cart::redis::{cart_key, CachedCart};
use shopcore_proto::cart::v1 as pb;
use shopcore_proto::cart::v1::cart_commands_client::CartCommandsClient;
use tonic::transport::Channel;
use uuid::Uuid;

use super::DEMO_SKU;
use crate::cart_expiry::CartExpirySettings;
use crate::metadata::CommandContext;
use crate::pipeline::CommandPipeline;

pub(super) fn at(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn ms(delta: TimeDelta) -> String {
    format!(
        "{:+.3} s",
        delta.num_microseconds().unwrap_or(0) as f64 / 1e6
    )
}

/// What the deployment holds of one cart.
pub(super) struct Seen {
    pub(super) events: Vec<String>,
    pub(super) mysql: Option<(String, DateTime<Utc>)>,
    pub(super) redis: String,
}

pub(super) struct Scene {
    pub(super) store: EventStore,
    pub(super) pipeline: CommandPipeline<Cart>,
    pub(super) carts: CartCommandsClient<Channel>,
    pub(super) read_model: CartReadModel,
    pub(super) mysql: sqlx::MySqlPool,
    pub(super) redis: redis::aio::ConnectionManager,
    pub(super) prefix: String,
    pub(super) token: String,
    pub(super) timeout: Duration,
    pub(super) sweep_settings: CartExpirySettings,
}

impl Scene {
    pub(super) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = format!("Bearer {}", self.token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    pub(super) async fn create(&self, label: &str) -> anyhow::Result<(Uuid, DateTime<Utc>)> {
        let id = Uuid::now_v7();
        let mut context = CommandContext::new("cart.create", format!("cart-ttl-scenario-{label}"));
        context.actor = "cart-ttl-scenario".into();
        let outcome = self
            .pipeline
            .execute(
                &id.to_string(),
                CartCommand::CreateCart(NewCart {
                    cart_id: id,
                    session_token: format!(
                        "cs_{}{}",
                        Uuid::new_v4().simple(),
                        Uuid::new_v4().simple()
                    ),
                    customer_id: None,
                    currency: Currency::EUR,
                    channel: Some("web".into()),
                    region: Some(format!("scenario-{label}")),
                    now: Utc::now(),
                }),
                &context,
            )
            .await?;
        let expires_at = outcome
            .state
            .expires_at
            .context("a new cart has an expiry")?;
        Ok((id, expires_at))
    }

    pub(super) async fn seen(&self, cart: Uuid) -> anyhow::Result<Seen> {
        let events: Vec<String> = sqlx::query_scalar(
            "SELECT event_type FROM events WHERE aggregate_type = 'cart' AND aggregate_id = $1
             ORDER BY sequence",
        )
        .bind(cart.to_string())
        .fetch_all(self.store.pool())
        .await?;
        let mysql: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT status, expires_at FROM carts WHERE cart_id = ?")
                .bind(cart.to_string())
                .fetch_optional(&self.mysql)
                .await?;
        let mut redis = self.redis.clone();
        let key = cart_key(&self.prefix, cart);
        let value: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
        let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut redis).await?;
        let ttl = if ttl_ms >= 0 {
            format!("TTL {:.3} s", ttl_ms as f64 / 1000.0)
        } else {
            "no TTL".to_owned()
        };
        let redis = match value.as_deref().map(CachedCart::parse) {
            None => "no key".to_owned(),
            Some(Some(CachedCart::View(view))) => format!(
                "a view, version {}, status {}, expiresAt {}, {ttl}",
                view.version,
                view.status.as_str(),
                at(view.expires_at)
            ),
            Some(Some(CachedCart::Tombstone {
                version, removed, ..
            })) => format!("a tombstone ({removed:?} at version {version}), {ttl}"),
            Some(None) => "an unreadable value".to_owned(),
        };
        Ok(Seen {
            events,
            mysql,
            redis,
        })
    }

    pub(super) async fn show(&self, label: &str, cart: Uuid) -> anyhow::Result<Seen> {
        let seen = self.seen(cart).await?;
        let now = Utc::now();
        let mysql = match &seen.mysql {
            None => "no row yet".to_owned(),
            Some((status, expires_at)) => format!(
                "status {status}, expires_at {} ({} from now)",
                at(*expires_at),
                ms(*expires_at - now)
            ),
        };
        println!("    {label}: MySQL carts row: {mysql}");
        println!(
            "    {label}: Redis {}: {}",
            cart_key(&self.prefix, cart),
            seen.redis
        );
        println!("    {label}: event store: {}", seen.events.join(", "));
        Ok(seen)
    }

    /// Waits until `done` holds for what the deployment holds of `cart`.
    pub(super) async fn until(
        &self,
        cart: Uuid,
        what: &str,
        done: impl Fn(&Seen) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if done(&self.seen(cart).await?) {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "cart {cart}: {what} did not happen within {} s (is infra/run running, with the projections and the cart expiry sweep?)",
                self.timeout.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An AddItem of the demo SKU over gRPC, and what the service answered.
    pub(super) async fn touch(&self, cart: Uuid) -> (String, bool) {
        let mut carts = self.carts.clone();
        let sent = Utc::now();
        let answer = carts
            .add_item(self.request(pb::AddItemRequest {
                cart_id: cart.to_string(),
                sku: DEMO_SKU.into(),
                quantity: 1,
                options: None,
            }))
            .await;
        match answer {
            Ok(reply) => {
                let cart = reply.into_inner().cart.unwrap_or_default();
                let said = format!(
                    "sent at {}: accepted, expiresAt slid to {} (the service's TTL)",
                    at(sent),
                    cart.expires_at
                );
                (said, true)
            }
            Err(status) => {
                let code = shopcore_proto::decode_error_detail(&status)
                    .map(|d| d.code)
                    .unwrap_or_default();
                let said = format!(
                    "sent at {}: {:?} {code} \"{}\" (REST answers {})",
                    at(sent),
                    status.code(),
                    status.message(),
                    if code == "gone" {
                        "410 Gone"
                    } else {
                        "another error"
                    }
                );
                (said, false)
            }
        }
    }

    /// The aggregate's decision on `command`, without writing it.
    pub(super) async fn decide(&self, cart: Uuid, command: CartCommand) -> anyhow::Result<String> {
        let loaded = self
            .store
            .load::<Cart>(&crate::cart::cart_snapshots(), &cart.to_string())
            .await?;
        let mut aggregate = loaded.aggregate;
        let sink = EventSink::default();
        Ok(
            match aggregate
                .handle(command, self.pipeline.services(), &sink)
                .await
            {
                Ok(()) => {
                    let events = sink.collect().await;
                    let names: Vec<String> = events
                        .iter()
                        .map(cqrs_es::DomainEvent::event_type)
                        .collect();
                    format!("accepted: {}", names.join(", "))
                }
                Err(error) => format!("refused: {error} ({:?})", error.kind()),
            },
        )
    }
}
