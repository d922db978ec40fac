//! `PriceRuleCommands`: the PriceRule aggregate over gRPC. An upsert carries the whole
//! definition, which replaces the stored one; the wire message is mapped field by field onto
//! the domain's [`PriceRuleDefinition`], whose validation names the field at fault.

use chrono::Utc;
use tonic::{Request, Response, Status};

use cqrs_es::Aggregate as _;
use shopcore_domain::pricing::{
    PriceRule, PriceRuleCommand, PriceRuleDefinition, EVENT_SCHEMA_VERSION,
};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::EventStore;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::price_rule_commands_server::PriceRuleCommands;

use super::{action_to_pb, definition_from_pb, instant_to_pb, run};
use crate::grpc::{command_requests, command_result, new_id, parse_uuid};
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Snapshots of price rules: every 50 events (a rule changes rarely).
pub fn price_rule_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(PriceRule::TYPE, 50, 1, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of price rules over `store`.
pub fn price_rule_pipeline(store: EventStore) -> CommandPipeline<PriceRule> {
    CommandPipeline::new(store, (), price_rule_snapshots())
}

command_requests!(pb::UpsertPriceRuleRequest, pb::RemovePriceRuleRequest);

/// The gRPC service of the PriceRule aggregate.
pub struct PriceRuleService {
    pipeline: CommandPipeline<PriceRule>,
}

impl PriceRuleService {
    pub fn new(store: EventStore) -> Self {
        Self {
            pipeline: price_rule_pipeline(store),
        }
    }
}

fn definition_to_pb(definition: &PriceRuleDefinition) -> pb::PriceRuleDefinition {
    let conditions = &definition.conditions;
    pb::PriceRuleDefinition {
        name: definition.name.clone(),
        targets: Some(pb::RuleTargets {
            skus: definition.targets.skus.iter().cloned().collect(),
            categories: definition.targets.categories.iter().cloned().collect(),
        }),
        priority: definition.priority,
        conditions: Some(pb::RuleConditions {
            customer_segments: conditions.customer_segments.iter().cloned().collect(),
            channels: conditions.channels.iter().cloned().collect(),
            regions: conditions.regions.iter().cloned().collect(),
            currency: conditions.currency.map(|c| c.code().to_owned()),
            valid_from: conditions.valid_from.map(instant_to_pb),
            valid_until: conditions.valid_until.map(instant_to_pb),
            min_quantity: conditions.min_quantity,
        }),
        action: Some(action_to_pb(definition.action)),
        exclusive: definition.exclusive,
    }
}

/// The reply: what the command did and the rule after it.
fn price_rule_result(outcome: &CommandOutcome<PriceRule>) -> pb::PriceRuleResult {
    let state = &outcome.state;
    pb::PriceRuleResult {
        result: Some(command_result(outcome.aggregate_id.clone(), outcome)),
        price_rule: Some(pb::PriceRule {
            rule_id: outcome.aggregate_id.clone(),
            definition: state.definition.as_ref().map(definition_to_pb),
            created_at: state.created_at.map(instant_to_pb).unwrap_or_default(),
            updated_at: state.updated_at.map(instant_to_pb).unwrap_or_default(),
            removed: state.id.is_some() && state.definition.is_none(),
        }),
    }
}

#[tonic::async_trait]
impl PriceRuleCommands for PriceRuleService {
    async fn upsert_price_rule(
        &self,
        request: Request<pb::UpsertPriceRuleRequest>,
    ) -> Result<Response<pb::PriceRuleResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "price_rule.upsert",
            request,
            |message| new_id(&message.rule_id, "ruleId"),
            |message, rule_id| {
                Ok(PriceRuleCommand::UpsertPriceRule {
                    rule_id: *rule_id,
                    definition: definition_from_pb(message.definition)?,
                    now: Utc::now(),
                })
            },
        )
        .await?;
        Ok(Response::new(price_rule_result(&outcome)))
    }

    async fn remove_price_rule(
        &self,
        request: Request<pb::RemovePriceRuleRequest>,
    ) -> Result<Response<pb::PriceRuleResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "price_rule.remove",
            request,
            |message| parse_uuid(&message.rule_id, "ruleId"),
            |_, _| Ok(PriceRuleCommand::RemovePriceRule { now: Utc::now() }),
        )
        .await?;
        Ok(Response::new(price_rule_result(&outcome)))
    }
}
