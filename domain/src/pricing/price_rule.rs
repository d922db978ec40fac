//! The `PriceRule` aggregate: one rule of the rule book, created or replaced by an upsert
//! (`POST /pricing/rules`) and removable. Its events feed `pricing.updated.v1`; the read side
//! turns live rules into [`PriceRuleSpec`]s for the evaluator.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::errors::PriceRuleError;
use super::rule::{PriceRuleDefinition, PriceRuleSpec};

/// What a caller may ask of a price rule.
// A command lives for one request; boxing the definition would only add noise for callers.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PriceRuleCommand {
    /// Creates the rule, or replaces its definition if it exists (or existed and was removed,
    /// in which case it starts afresh with a new `createdAt`). An identical definition changes
    /// nothing.
    UpsertPriceRule {
        rule_id: Uuid,
        definition: PriceRuleDefinition,
        now: DateTime<Utc>,
    },
    RemovePriceRule {
        now: DateTime<Utc>,
    },
}

/// What happened to a price rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PriceRuleEvent {
    #[serde(rename_all = "camelCase")]
    PriceRuleCreated {
        rule_id: Uuid,
        definition: PriceRuleDefinition,
        created_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    PriceRuleUpdated {
        definition: PriceRuleDefinition,
        updated_at: DateTime<Utc>,
    },
    #[serde(rename_all = "camelCase")]
    PriceRuleRemoved { removed_at: DateTime<Utc> },
}

impl PriceRuleEvent {
    /// Every event type name of the aggregate, for exhaustive topic and schema maps.
    pub const EVENT_TYPES: &'static [&'static str] =
        &["PriceRuleCreated", "PriceRuleUpdated", "PriceRuleRemoved"];
}

impl DomainEvent for PriceRuleEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PriceRuleCreated { .. } => "PriceRuleCreated",
            Self::PriceRuleUpdated { .. } => "PriceRuleUpdated",
            Self::PriceRuleRemoved { .. } => "PriceRuleRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        super::EVENT_SCHEMA_VERSION.to_owned()
    }
}

/// A price rule's state; `definition` is `None` before creation and after removal.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceRule {
    pub id: Option<Uuid>,
    pub definition: Option<PriceRuleDefinition>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl PriceRule {
    /// The rule as the evaluator takes it, if it is live.
    pub fn spec(&self) -> Option<PriceRuleSpec> {
        Some(PriceRuleSpec {
            rule_id: self.id?,
            created_at: self.created_at?,
            definition: self.definition.clone()?,
        })
    }
}

impl Aggregate for PriceRule {
    const TYPE: &'static str = "price_rule";
    type Command = PriceRuleCommand;
    type Event = PriceRuleEvent;
    type Error = PriceRuleError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            PriceRuleCommand::UpsertPriceRule {
                rule_id,
                definition,
                now,
            } => {
                if self.id.is_some_and(|id| id != rule_id) {
                    return Err(PriceRuleError::IdMismatch(rule_id));
                }
                let definition = definition.validated()?;
                match &self.definition {
                    None => PriceRuleEvent::PriceRuleCreated {
                        rule_id,
                        definition,
                        created_at: now,
                    },
                    Some(current) if *current == definition => return Ok(()),
                    Some(_) => PriceRuleEvent::PriceRuleUpdated {
                        definition,
                        updated_at: now,
                    },
                }
            }
            PriceRuleCommand::RemovePriceRule { now } => {
                if self.definition.is_none() {
                    return Err(PriceRuleError::NotFound);
                }
                PriceRuleEvent::PriceRuleRemoved { removed_at: now }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PriceRuleEvent::PriceRuleCreated {
                rule_id,
                definition,
                created_at,
            } => {
                self.id = Some(rule_id);
                self.definition = Some(definition);
                self.created_at = Some(created_at);
                self.updated_at = Some(created_at);
            }
            PriceRuleEvent::PriceRuleUpdated {
                definition,
                updated_at,
            } => {
                self.definition = Some(definition);
                self.updated_at = Some(updated_at);
            }
            PriceRuleEvent::PriceRuleRemoved { removed_at } => {
                self.definition = None;
                self.updated_at = Some(removed_at);
            }
        }
    }
}
