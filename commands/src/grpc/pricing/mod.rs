//! The pricing services over gRPC, one file per aggregate: [`price_book`], [`price_rule`],
//! [`promotion`] and [`currency_rate`]. This file holds what they share: the access check
//! (a platform token with `manage_prices`), the run of one command, and the wire formats —
//! money as minor units, percentages and rates as exact decimal strings, instants as RFC 3339 —
//! each parsed into the domain's type or refused with `INVALID_ARGUMENT` naming the field
//! (defined in [`shopcore_pricing_index::wire`], which the price queries share).

pub mod currency_rate;
pub mod price_book;
pub mod price_rule;
pub mod promotion;

use tonic::{Request, Status};

use shopcore_auth::scopes::MANAGE_PRICES;
pub(crate) use shopcore_pricing_index::wire::{
    action_to_pb, currency, definition_from_pb, instant, instant_to_pb, money, money_to_pb, percent,
};

use super::{denied, execute, principal, CommandRequest};
use crate::claims::UniqueClaims;
use crate::error::DomainRejection;
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Checks the caller, builds the command for the aggregate `id` names and runs it. Bad input
/// is refused before anything is read or written.
pub(crate) async fn run<A, M, I>(
    pipeline: &CommandPipeline<A>,
    command_type: &'static str,
    request: Request<M>,
    id: impl FnOnce(&M) -> Result<I, Status>,
    command: impl FnOnce(M, &I) -> Result<A::Command, Status>,
) -> Result<CommandOutcome<A>, Status>
where
    A: cqrs_es::Aggregate + UniqueClaims + Clone,
    A::Error: DomainRejection,
    A::Command: std::fmt::Debug + Clone,
    M: CommandRequest,
    I: std::fmt::Display,
{
    let (metadata, extensions, message) = request.into_parts();
    let caller = principal(&extensions)?;
    caller.platform(MANAGE_PRICES).map_err(denied)?;
    let (message, options, fingerprint) = message.split();
    let id = id(&message)?;
    let command = command(message, &id)?;
    execute(
        pipeline,
        command_type,
        (caller, &metadata),
        (options, fingerprint),
        &id.to_string(),
        command,
    )
    .await
}
