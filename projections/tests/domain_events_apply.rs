//! Every event the domain accepts can be applied by every read model.
//!
//! Property test: generated customer commands (every Unicode class, case variants, the
//! longest values and the largest collections the domain allows, separators in phone numbers,
//! segment recalculations) go through the real command pipeline into a real event store;
//! whatever the domain accepts is projected into the real MySQL and Redis read models, which
//! must then equal a fold of the events. A column size, charset or collation that disagrees
//! with the domain's rules shows up here as a projector stopped at an event.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use shopcore_commands::grpc::customer::customer_snapshots;
use shopcore_commands::metadata::CommandContext;
use shopcore_commands::pipeline::CommandPipeline;
use shopcore_domain::customer::{
    Address, Customer, CustomerCommand, CustomerEmailLookup, CustomerServices, ProfileChanges,
};
use shopcore_event_store::testing::TestEventStore;
use shopcore_event_store::GlobalLog;
use shopcore_projections::customer::mysql::{find_customer, CustomerMysqlProjector};
use shopcore_projections::customer::redis::{cached_customer, CustomerRedisProjector};
use shopcore_projections::customer::{CustomerView, AGGREGATE_TYPE};
use shopcore_projections::runtime::{ProjectionRunner, Projector};
use shopcore_projections::stores::{connect_mysql, connect_redis};
use sqlx::migrate::MigrateDatabase;
use uuid::Uuid;

/// The store's unique claims guard e-mails; generated e-mails are unique per case anyway.
struct NoEmailsTaken;

#[async_trait]
impl CustomerEmailLookup for NoEmailsTaken {
    async fn owner_of(&self, _email: &str) -> Result<Option<Uuid>, String> {
        Ok(None)
    }
}

/// Text of up to `max` characters: any Unicode scalar, the longest in 4-byte characters,
/// letters that fold differently, whitespace around, combining marks.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::collection::vec(any::<char>(), 0..=max).prop_map(|c| c.into_iter().collect()),
        4 => proptest::string::string_regex(&format!("\\PC{{1,{max}}}")).expect("valid regex"),
        1 => Just("𝔘".repeat(max)),
        1 => Just("ǅ".repeat(max)),
        1 => Just(format!(" {} ", "e\u{301}".repeat(max / 2))),
        1 => Just("İı".repeat(max / 2)),
        1 => "[a-zA-Z' -]{1,40}",
    ]
}

fn email(case: u64) -> impl Strategy<Value = String> {
    let tag = format!("c{case}");
    prop_oneof![
        "[^\\s@<>,;\\p{Cc}]{1,40}".prop_map({
            let tag = tag.clone();
            move |local| format!("{local}{tag}@Example.COM")
        }),
        // The longest address the domain accepts: 254 characters.
        Just(format!(
            "{tag}{}@example.com",
            "a".repeat(254 - 12 - tag.len())
        )),
        Just(format!("{tag}.ÜNICÖDE@bücher.example")),
    ]
}

fn phone() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        (6usize..=20, 0usize..=40, any::<bool>()).prop_map(|(digits, separators, plus)| {
            let mut phone = if plus { "+".to_owned() } else { String::new() };
            for n in 0..digits {
                phone.push(char::from(b'0' + ((n + 1) % 10) as u8));
                if n < separators {
                    phone.push([' ', '-', '.', '(', ')'][n % 5]);
                }
            }
            Some(phone)
        }),
        any::<String>().prop_map(Some),
    ]
}

fn segments() -> impl Strategy<Value = Vec<String>> {
    let name = prop_oneof![
        Just("VIP".to_owned()),
        Just("vip".to_owned()),
        Just("Vip".to_owned()),
        Just("general".to_owned()),
        Just("GENERAL".to_owned()),
        Just("a".repeat(64)),
        Just("A".repeat(64)),
        "[A-Za-z0-9_-]{1,64}",
        any::<String>(),
    ];
    prop::collection::vec(name, 0..=40)
}

fn address() -> impl Strategy<Value = Address> {
    (
        text(200),
        text(200),
        text(200),
        text(200),
        text(200),
        text(200),
        "[a-zA-Z]{2}|.{0,3}",
    )
        .prop_map(
            |(line1, line2, city, region, postal_code, label, country)| Address {
                line1,
                line2,
                city,
                region,
                postal_code,
                country,
                label,
            },
        )
}

#[derive(Debug, Clone)]
enum Step {
    Update(ProfileChanges),
    AddAddresses(Vec<Address>),
    Segments(Vec<String>),
    RemoveFirstAddress,
    /// The segment policy's recalculation: its segment (any name, case variants of assigned
    /// ones too) and a spend that may or may not reach the threshold.
    Recalculate(String, i64),
}

/// Log places of the generated recalculations' checkouts: each later than the one before.
static CHECKOUTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn recalculation(segment: String, spend: i64) -> CustomerCommand {
    use shopcore_domain::customer::{
        CheckoutCause, LogOrder, SegmentRecalculation, Spend, SpendRule,
    };
    use shopcore_domain::money::{Currency, Money};
    let place = CHECKOUTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    CustomerCommand::RecalculateSegments(SegmentRecalculation {
        cause: CheckoutCause {
            event_id: Uuid::now_v7(),
            log_order: LogOrder::new(place, place),
            checked_out_at: chrono::Utc::now(),
        },
        rule: SpendRule {
            segment,
            threshold: Money::new(100_000, Currency::EUR),
            window_days: 365,
        },
        spend: Spend {
            total: Money::new(spend, Currency::EUR),
            counted: 1,
            uncounted: u32::from(spend % 3 == 0),
        },
    })
}

fn step(case: u64) -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            prop::option::of(email(case + 1_000_000)),
            prop::option::of(text(100)),
            prop::option::of(text(100)),
            phone()
        )
            .prop_map(|(email, first_name, last_name, phone)| Step::Update(
                ProfileChanges {
                    email,
                    first_name,
                    last_name,
                    phone,
                }
            )),
        // Up to the domain's maximum of 50, and past it.
        prop::collection::vec(address(), 1..=55).prop_map(Step::AddAddresses),
        segments().prop_map(Step::Segments),
        Just(Step::RemoveFirstAddress),
        (
            prop_oneof![
                Just("vip".to_owned()),
                Just("VIP".to_owned()),
                Just("v".repeat(64)),
                "[A-Za-z0-9_-]{1,64}"
            ],
            0i64..200_000
        )
            .prop_map(|(segment, spend)| Step::Recalculate(segment, spend)),
    ]
}

fn customer_case(
    case: u64,
) -> impl Strategy<Value = (String, String, String, Option<String>, Vec<Step>)> {
    (
        email(case),
        text(100),
        text(100),
        phone(),
        prop::collection::vec(step(case), 0..6),
    )
}

struct World {
    pipeline: CommandPipeline<Customer>,
    log: GlobalLog,
    mysql: sqlx::MySqlPool,
    redis: redis::aio::ConnectionManager,
    prefix: String,
    runners: Vec<ProjectionRunner>,
}

impl World {
    /// Runs a generated customer's commands; rejected ones are skipped (the domain decides).
    /// Returns the customer's id when it was registered.
    async fn run(
        &self,
        (email, first_name, last_name, phone, steps): (
            String,
            String,
            String,
            Option<String>,
            Vec<Step>,
        ),
    ) -> Option<Uuid> {
        let id = Uuid::now_v7();
        let key = id.to_string();
        let context = CommandContext::new("test.property", "property");
        let register = CustomerCommand::Register {
            customer_id: id,
            email,
            first_name,
            last_name,
            phone,
        };
        self.pipeline.execute(&key, register, &context).await.ok()?;
        let mut addresses = Vec::new();
        for step in steps {
            let commands = match step {
                Step::Update(changes) => vec![CustomerCommand::UpdateProfile(changes)],
                Step::Segments(segments) => vec![CustomerCommand::AssignSegments { segments }],
                Step::AddAddresses(list) => list
                    .into_iter()
                    .map(|address| {
                        let address_id = Uuid::new_v4();
                        addresses.push(address_id);
                        CustomerCommand::AddAddress {
                            address_id,
                            address,
                        }
                    })
                    .collect(),
                Step::Recalculate(segment, spend) => vec![recalculation(segment, spend)],
                Step::RemoveFirstAddress => match addresses.first() {
                    Some(&address_id) => vec![CustomerCommand::RemoveAddress { address_id }],
                    None => vec![],
                },
            };
            for command in commands {
                let _ = self.pipeline.execute(&key, command, &context).await;
            }
        }
        Some(id)
    }

    /// Applies everything to every read model; fails naming the event a projector cannot apply.
    async fn project(&self) -> Result<(), TestCaseError> {
        for runner in &self.runners {
            loop {
                match runner.step().await {
                    Ok(step) if step.events == 0 && !step.held_back => break,
                    Ok(_) => {}
                    Err(error) => {
                        return Err(TestCaseError::fail(format!(
                            "{} cannot apply a domain-valid event: {error}",
                            runner.projector().name()
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    async fn check(&self, id: Uuid) -> Result<(), TestCaseError> {
        let history = self
            .log
            .aggregate_events(AGGREGATE_TYPE, &id.to_string(), None)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = CustomerView::fold(&history)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .ok_or_else(|| TestCaseError::fail("no customer"))?;
        let in_mysql = find_customer(&self.mysql, id)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            in_mysql.as_ref(),
            Some(&expected),
            "mysql differs from the events"
        );
        let in_redis = cached_customer(&mut self.redis.clone(), &self.prefix, id)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            in_redis.as_ref(),
            Some(&expected),
            "redis differs from the events"
        );
        Ok(())
    }
}

#[test]
fn every_domain_valid_customer_event_applies_to_mysql_and_redis() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let db = runtime.block_on(TestEventStore::create())?;
    let mysql_url = format!(
        "{}/shopcore_test_{}",
        shopcore_event_store::testing::mysql_server_url(),
        Uuid::new_v4().simple()
    );
    let world = runtime.block_on(async {
        let log = GlobalLog::new(db.store.pool().clone());
        let mysql = connect_mysql(&mysql_url).await?;
        let redis = connect_redis(&shopcore_event_store::testing::redis_url()).await?;
        let prefix = format!("test:{}:", Uuid::new_v4().simple());
        let projectors: Vec<Arc<dyn Projector>> = vec![
            Arc::new(CustomerMysqlProjector::new(mysql.clone(), log.clone())),
            Arc::new(CustomerRedisProjector::new(
                redis.clone(),
                log.clone(),
                prefix.clone(),
            )),
        ];
        let runners = projectors
            .into_iter()
            .map(|p| ProjectionRunner::new(log.clone(), p, 200))
            .collect();
        let services = CustomerServices {
            emails: Arc::new(NoEmailsTaken),
        };
        anyhow::Ok(World {
            pipeline: CommandPipeline::new(db.store.clone(), services, customer_snapshots()),
            log,
            mysql,
            redis,
            prefix,
            runners,
        })
    })?;

    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    // A projector that halted stays halted, so shrinking a failure would only repeat it.
    let config = Config {
        cases,
        max_shrink_iters: 0,
        failure_persistence: None,
        ..Config::default()
    };
    let registered = std::sync::atomic::AtomicU32::new(0);
    let count_events = || -> anyhow::Result<i64> {
        Ok(runtime.block_on(
            sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(db.store.pool()),
        )?)
    };
    // Most generated cases are refused by the domain (that is half the point); the share that
    // is accepted varies from run to run. Rounds of `cases` go on until enough were accepted to
    // prove something (at most four), so that an unlucky draw is never a failure.
    let mut result = Ok(());
    for _ in 0..4 {
        // A fresh runner each round (a used one runs no further cases), with its own seed.
        let mut runner = TestRunner::new(config.clone());
        result = runner.run(
            &(0u64..u64::MAX).prop_flat_map(customer_case),
            |generated| {
                runtime.block_on(async {
                    let id = world.run(generated).await;
                    world.project().await?;
                    if let Some(id) = id {
                        registered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        world.check(id).await?;
                    }
                    Ok(())
                })
            },
        );
        let enough = registered.load(std::sync::atomic::Ordering::Relaxed) >= cases / 4
            && count_events()? > i64::from(cases);
        if result.is_err() || enough {
            break;
        }
    }
    let registered = registered.into_inner();
    let events = count_events()?;
    runtime.block_on(async {
        for runner in &world.runners {
            let _ = runner.projector().reset().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), world.mysql.close()).await;
        let _ = sqlx::MySql::drop_database(&mysql_url).await;
    });
    runtime.block_on(db.drop_database())?;
    result.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(
        registered >= cases / 4 && events > i64::from(cases),
        "too few accepted commands to prove anything: {registered} customers, {events} events"
    );
    Ok(())
}
