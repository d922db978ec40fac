//! `CurrencyRateCommands`: the CurrencyRate aggregate over gRPC. One aggregate per ordered
//! pair, its id `BASE-QUOTE` ([`CurrencyRate::aggregate_id`]) built from the two validated
//! codes, so a caller never names the id and cannot send one that disagrees with the pair.
//! Rates are exact decimal strings ([`Rate::parse`]), never floats.

use chrono::Utc;
use tonic::{Request, Response, Status};

use cqrs_es::Aggregate as _;
use shopcore_domain::money::{Currency, Rate};
use shopcore_domain::pricing::{CurrencyRate, CurrencyRateCommand, EVENT_SCHEMA_VERSION};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::EventStore;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::currency_rate_commands_server::CurrencyRateCommands;

use super::{currency, instant_to_pb, run};
use crate::grpc::{command_requests, command_result, invalid};
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Snapshots of currency pairs: every 100 events (a rate sync may change a pair daily).
pub fn currency_rate_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(CurrencyRate::TYPE, 100, 1, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of currency pairs over `store`.
pub fn currency_rate_pipeline(store: EventStore) -> CommandPipeline<CurrencyRate> {
    CommandPipeline::new(store, (), currency_rate_snapshots())
}

command_requests!(pb::SetFxRateRequest);

/// The gRPC service of the CurrencyRate aggregate.
pub struct CurrencyRateService {
    pipeline: CommandPipeline<CurrencyRate>,
}

impl CurrencyRateService {
    pub fn new(store: EventStore) -> Self {
        Self {
            pipeline: currency_rate_pipeline(store),
        }
    }
}

/// The pair of a request, both codes checked.
struct Pair {
    base: Currency,
    quote: Currency,
}

impl std::fmt::Display for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&CurrencyRate::aggregate_id(self.base, self.quote))
    }
}

fn currency_rate_result(outcome: &CommandOutcome<CurrencyRate>) -> pb::CurrencyRateResult {
    let state = &outcome.state;
    pb::CurrencyRateResult {
        result: Some(command_result(outcome.aggregate_id.clone(), outcome)),
        currency_rate: Some(pb::CurrencyRate {
            pair: outcome.aggregate_id.clone(),
            base: state
                .rate
                .map(|r| r.base.code().to_owned())
                .unwrap_or_default(),
            quote: state
                .rate
                .map(|r| r.quote.code().to_owned())
                .unwrap_or_default(),
            rate: state.rate.map(|r| r.rate.to_string()).unwrap_or_default(),
            changed_at: state.changed_at.map(instant_to_pb).unwrap_or_default(),
        }),
    }
}

#[tonic::async_trait]
impl CurrencyRateCommands for CurrencyRateService {
    async fn set_fx_rate(
        &self,
        request: Request<pb::SetFxRateRequest>,
    ) -> Result<Response<pb::CurrencyRateResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "currency_rate.set",
            request,
            |message| {
                Ok(Pair {
                    base: currency(&message.base, "base")?,
                    quote: currency(&message.quote, "quote")?,
                })
            },
            |message, pair| {
                let rate = Rate::parse(message.rate.trim()).map_err(|error| {
                    invalid("rate", error.to_string().trim_start_matches("rate: "))
                })?;
                Ok(CurrencyRateCommand::SetFxRate {
                    base: pair.base,
                    quote: pair.quote,
                    rate,
                    source: message.source,
                    now: Utc::now(),
                })
            },
        )
        .await?;
        Ok(Response::new(currency_rate_result(&outcome)))
    }
}
