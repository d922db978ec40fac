//! `shopcore-commands`: the gRPC command service, and seeding.

use std::time::Duration;

use clap::{Parser, Subcommand};
use shopcore_commands::app::CommandApp;
use shopcore_commands::cart_expiry::{CartExpirySettings, CartExpirySweep};
use shopcore_commands::catalog_feed::{self, CatalogFeed, CatalogFeedSettings};
use shopcore_commands::fx::{self, CurrencyRateSyncSettings, FxProviderSettings};
use shopcore_commands::media::{MediaWorker, MediaWorkerSettings};
use shopcore_commands::promotion_scheduler::{PromotionScheduler, PromotionSchedulerSettings};
use shopcore_commands::relay::{server, Relay, RelaySettings};
use shopcore_commands::segment_policy::{SegmentPolicy, SegmentPolicySettings};
use shopcore_commands::settings::CommandSettings;
use shopcore_event_store::{schema, EventStore, GlobalLog, StoreOptions};
use shopcore_telemetry::process::shutdown_signal;

#[derive(Parser)]
#[command(name = "shopcore-commands", about = "Shopcore's gRPC command service")]
struct Cli {
    #[command(flatten)]
    settings: CommandSettings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC until stopped (the default). Migrates the event store first.
    Serve,
    /// Create the event store database when missing and run its migrations, then exit.
    Migrate,
    /// Delete idempotency keys older than IDEMPOTENCY_RETENTION_HOURS (the service also does
    /// it every ten minutes).
    PurgeIdempotencyKeys,
    /// Write seed data through the command pipeline (idempotent: run it twice, get it once).
    Seed {
        /// Customers to register (every tenth is VIP).
        #[arg(long, default_value_t = 1000)]
        customers: usize,
        /// Sample catalog: the category tree and this many products with variants.
        #[arg(long, default_value_t = 300)]
        products: usize,
        /// Price rules for the sample catalog's key SKUs (books, prices and rates always).
        #[arg(long, default_value_t = 200)]
        price_rules: usize,
        /// Carts with items of the seeded SKUs: a third anonymous, the rest the seeded
        /// customers'; a quarter with a seeded coupon; every fifth near expiry.
        #[arg(long, default_value_t = 200)]
        carts: usize,
        /// The near-expiry carts live this many seconds after seeding (the others
        /// CART_TTL_SECONDS).
        #[arg(long, default_value_t = 900)]
        near_expiry_seconds: u32,
    },
    /// Publish every stored event to Kafka (Avro, schema registry ids) until stopped.
    Relay {
        #[command(flatten)]
        relay: RelaySettings,
    },
    /// Process uploaded product media (check their bytes, measure them, make thumbnails) until
    /// stopped.
    MediaWorker {
        #[command(flatten)]
        media: MediaWorkerSettings,
    },
    /// Activate promotions when their scheduled start time arrives (due ones from the MySQL
    /// read model, through the promotion's command pipeline; exactly once even with several
    /// schedulers running) until stopped.
    PromotionScheduler {
        #[command(flatten)]
        scheduler: PromotionSchedulerSettings,
    },
    /// Expire carts whose expiresAt has passed (due ones from the MySQL read model, through the
    /// cart's command pipeline; exactly once even with several sweeps running) and remove them
    /// from the Redis cart cache, every CART_EXPIRY_INTERVAL until stopped (or once, with
    /// --once).
    CartExpirySweep {
        #[command(flatten)]
        sweep: CartExpirySettings,
    },
    /// Reproduce the cart TTL issue against a running deployment (infra/run) and print how it
    /// is resolved: Redis and MySQL disagreeing about a cart's life, carts touched at the moment
    /// they expire, the sweep closing each once. `tests/scenarios/cart_ttl` runs it.
    CartTtlScenario {
        #[command(flatten)]
        scenario: shopcore_commands::cart_expiry::scenario::CartTtlScenarioSettings,
    },
    /// Recalculate customers' spend segment (VIP) after each checkout, once per checkout, until
    /// stopped (see SEGMENT_* for the rule).
    SegmentPolicy {
        #[command(flatten)]
        policy: SegmentPolicySettings,
    },
    /// Follow the CouchDB `_changes` feed of the catalog database and publish every product
    /// document to Kafka (catalog.product.document.v1; drifting documents dead-lettered or
    /// skipped, see CATALOG_FEED_ON_DRIFT) until stopped.
    CatalogFeed {
        #[command(flatten)]
        feed: CatalogFeedSettings,
    },
    /// Serve a fake FX rates provider: an ECB daily reference rates document at
    /// /stats/eurofxref/eurofxref-daily.xml, replaced by a PUT of another document.
    FxProvider {
        #[command(flatten)]
        provider: FxProviderSettings,
    },
    /// Record the FX provider's changed rates as SetFxRate commands every FX_SYNC_INTERVAL and
    /// on POST /sync (or once, with --once), until stopped.
    CurrencyRateSync {
        #[command(flatten)]
        sync: CurrencyRateSyncSettings,
    },
    /// Print published events of a topic, decoded with the schema registry, as JSON lines.
    Events {
        /// A topic of the topic map (without KAFKA_TOPIC_PREFIX), e.g. customer.updated, or a
        /// document topic: catalog.product.document.v1, catalog.product.document.v1.dlq.
        topic: String,
        /// At most this many messages, from the beginning.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        relay: RelaySettings,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let _telemetry = shopcore_telemetry::init("shopcore-commands")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            tracing::info!(settings = ?cli.settings, "starting");
            let app = CommandApp::build(&cli.settings).await?;
            app.run(shutdown_signal()).await
        }
        Command::Migrate => {
            shopcore_commands::app::migrate(&cli.settings).await?;
            println!(
                "event store migrated to {}",
                shopcore_event_store::schema::expected_version()
            );
            Ok(())
        }
        Command::PurgeIdempotencyKeys => {
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(30)).await?;
            let purged = store.purge_idempotency_keys().await?;
            println!(
                "purged {purged} idempotency keys older than {} h",
                cli.settings.idempotency_retention_hours
            );
            Ok(())
        }
        Command::Seed {
            customers,
            products,
            price_rules,
            carts,
            near_expiry_seconds,
        } => {
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(30)).await?;
            let started = std::time::Instant::now();
            let report = shopcore_commands::seed::seed_customers(&store, customers).await?;
            println!(
                "seeded {} customers, {} new events in {:.1} s",
                report.customers,
                report.events_written,
                started.elapsed().as_secs_f64()
            );
            let started = std::time::Instant::now();
            let catalog = shopcore_commands::seed::seed_catalog(&store, products).await?;
            println!(
                "seeded {} categories and {} products, {} new events in {:.1} s",
                catalog.categories,
                catalog.products,
                catalog.events_written,
                started.elapsed().as_secs_f64()
            );
            let started = std::time::Instant::now();
            let pricing =
                shopcore_commands::seed::seed_pricing(&store, products, price_rules).await?;
            println!(
                "seeded {} price books with {} prices, {} rates, {} price rules and {} promotions, {} new events in {:.1} s",
                pricing.books,
                pricing.prices,
                pricing.rates,
                pricing.rules,
                pricing.promotions,
                pricing.events_written,
                started.elapsed().as_secs_f64()
            );
            let started = std::time::Instant::now();
            let seed = shopcore_commands::seed::CartSeed {
                carts,
                customers,
                products,
                settings: cli.settings.carts.settings(),
                near_expiry: chrono::TimeDelta::seconds(i64::from(near_expiry_seconds.max(1))),
            };
            let report =
                shopcore_commands::seed::seed_carts(&store, &seed, &cli.settings.pricing).await?;
            println!(
                "seeded {} carts ({} anonymous, {} with a coupon, {} near expiry, {} in USD, {} lines; {} no longer open, {} lines or coupons refused), {} new events in {:.1} s",
                report.carts,
                report.anonymous,
                report.with_coupon,
                report.near_expiry,
                report.usd,
                report.lines,
                report.closed,
                report.refused,
                report.events_written,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Relay { relay } => {
            tracing::info!(settings = ?cli.settings, relay = ?relay, "starting");
            // The relay reads; it waits for the command service's migrations rather than
            // running them, and has no write-path timeouts on its long-lived leader connection.
            let options = StoreOptions {
                max_connections: 4,
                statement_timeout: Duration::from_secs(30),
                idle_in_transaction_timeout: Duration::from_secs(60),
                ..StoreOptions::default()
            };
            let store = EventStore::connect(&cli.settings.database_url, &options).await?;
            schema::check(store.pool(), Duration::from_secs(60)).await?;
            let listener = tokio::net::TcpListener::bind(relay.metrics_addr).await?;
            let relay = Relay::new(relay, GlobalLog::new(store.pool().clone()))?;
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            server::spawn(listener, relay.status());
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            relay.run(stopped).await;
            Ok(())
        }
        Command::MediaWorker { media } => {
            tracing::info!(settings = ?cli.settings, media = ?media, "starting");
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(60)).await?;
            let media_store = shopcore_media_store::MediaStore::open(&media.media_store_url())?;
            let listener = tokio::net::TcpListener::bind(media.metrics_addr).await?;
            let worker = MediaWorker::new(store, media_store, &media.name, media.batch_size);
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            worker.serve_ops(listener);
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            worker.run(stopped).await;
            Ok(())
        }
        Command::PromotionScheduler { scheduler } => {
            tracing::info!(settings = ?cli.settings, scheduler = ?scheduler, "starting");
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(60)).await?;
            let listener = tokio::net::TcpListener::bind(scheduler.metrics_addr).await?;
            let scheduler = PromotionScheduler::new(store, &scheduler)?;
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            scheduler.serve_ops(listener);
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            scheduler.run(stopped).await;
            Ok(())
        }
        Command::CartExpirySweep { sweep } => {
            tracing::info!(settings = ?cli.settings, sweep = ?sweep, "starting");
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(60)).await?;
            let carts = cli.settings.carts.settings();
            if sweep.once {
                let sweeper = CartExpirySweep::connect(store, &sweep, carts).await?;
                let report = sweeper.round().await?;
                println!("{}", serde_json::to_string(&report)?);
                anyhow::ensure!(report.failed == 0, "{} carts failed", report.failed);
                return Ok(());
            }
            let listener = tokio::net::TcpListener::bind(sweep.metrics_addr).await?;
            let sweeper = CartExpirySweep::connect(store, &sweep, carts).await?;
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            sweeper.serve_ops(listener);
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            sweeper.run(stopped).await;
            Ok(())
        }
        Command::CartTtlScenario { scenario } => {
            tracing::info!(scenario = ?scenario, "starting");
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(30)).await?;
            shopcore_commands::cart_expiry::scenario::run(store, &scenario, &cli.settings.auth)
                .await
        }
        Command::SegmentPolicy { policy } => {
            tracing::info!(settings = ?cli.settings, policy = ?policy, "starting");
            let store =
                EventStore::connect(&cli.settings.database_url, &cli.settings.store_options())
                    .await?;
            schema::check(store.pool(), Duration::from_secs(60)).await?;
            let listener = tokio::net::TcpListener::bind(policy.metrics_addr).await?;
            let policy =
                SegmentPolicy::from_settings(store, &policy, cli.settings.pricing.fx_base()?)?;
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            policy.serve_ops(listener);
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            policy.run(stopped).await;
            Ok(())
        }
        Command::CatalogFeed { feed } => {
            tracing::info!(feed = ?feed, "starting");
            let listener = tokio::net::TcpListener::bind(feed.metrics_addr).await?;
            let feed = CatalogFeed::new(feed)?;
            tracing::info!(metrics_addr = %listener.local_addr()?, "listening");
            catalog_feed::server::spawn(listener, feed.status());
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop.send(true);
            });
            feed.run(stopped).await;
            Ok(())
        }
        Command::FxProvider { provider } => fx::process::run_provider(provider).await,
        Command::CurrencyRateSync { mut sync } => {
            sync.stale_after = Duration::from_secs(cli.settings.pricing.fx_stale_after_seconds);
            fx::process::run_sync(&cli.settings, sync).await
        }
        Command::Events {
            topic,
            limit,
            relay,
        } => {
            let topic = format!("{}{topic}", relay.topic_prefix);
            shopcore_commands::relay::consumer::print_decoded(
                &relay.kafka_brokers,
                &relay.schema_registry_url,
                &[topic],
                relay.topic_partitions,
                limit,
            )
            .await?;
            Ok(())
        }
    }
}
