//! The pricing services over gRPC, one file per aggregate: [`price_book`], [`price_rule`],
//! [`promotion`] and [`currency_rate`]. This file holds what they share: the access check
//! (a platform token with `manage_prices`), the run of one command, and the wire formats —
//! money as minor units, percentages and rates as exact decimal strings, instants as RFC 3339 —
//! each parsed into the domain's type or refused with `INVALID_ARGUMENT` naming the field.

pub mod currency_rate;
pub mod price_book;
pub mod price_rule;
pub mod promotion;

use chrono::{DateTime, SecondsFormat, Utc};
use tonic::{Request, Status};

use shopcore_auth::scopes::MANAGE_PRICES;
use shopcore_domain::money::{Currency, Money, Percent};
use shopcore_proto::pricing::v1 as pb;

use super::{denied, execute, invalid, principal, CommandRequest};
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
    A::Command: std::fmt::Debug,
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

/// An ISO 4217 code the domain supports (upper case, as the money module requires).
pub(crate) fn currency(code: &str, field: &str) -> Result<Currency, Status> {
    Currency::parse(code.trim())
        .map_err(|_| invalid(field, "must be a supported ISO 4217 code in upper case"))
}

/// Money of a request: required, in a supported currency. Signs are the domain's business.
pub(crate) fn money(value: Option<pb::Money>, field: &str) -> Result<Money, Status> {
    let value = value.ok_or_else(|| invalid(field, "is required"))?;
    let currency = currency(&value.currency, &format!("{field}.currency"))?;
    Ok(Money::new(value.amount_minor, currency))
}

pub(crate) fn money_to_pb(money: Money) -> pb::Money {
    pb::Money {
        amount_minor: money.amount(),
        currency: money.currency().code().to_owned(),
    }
}

/// A percentage as an exact decimal string ("12.5"), never a float.
pub(crate) fn percent(text: &str, field: &str) -> Result<Percent, Status> {
    Percent::parse(text.trim()).map_err(|_| {
        invalid(
            field,
            "must be a decimal from 0 to 100 with at most 2 decimals",
        )
    })
}

/// An instant in RFC 3339 ("2026-11-27T00:00:00Z", any offset).
pub(crate) fn instant(text: &str, field: &str) -> Result<DateTime<Utc>, Status> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            invalid(
                field,
                "must be an RFC 3339 instant, e.g. 2026-11-27T00:00:00Z",
            )
        })
}

pub(crate) fn instant_to_pb(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(status: &Status) -> String {
        shopcore_proto::decode_error_detail(status)
            .map(|d| d.field)
            .unwrap_or_default()
    }

    #[test]
    fn wire_values_are_exact_or_refused_naming_the_field() {
        assert_eq!(
            percent("12.5", "p").map(|p| p.basis_points()).ok(),
            Some(1_250)
        );
        for bad in ["-1", "100.5", "12.345", "1e1", "NaN", ""] {
            let error = percent(bad, "discount.percentOff").expect_err(bad);
            assert_eq!(field_of(&error), "discount.percentOff", "{bad}");
        }
        let error = money(
            Some(pb::Money {
                amount_minor: 1,
                currency: "usd".into(),
            }),
            "price",
        )
        .expect_err("lower case");
        assert_eq!(field_of(&error), "price.currency");
        assert_eq!(
            field_of(&money(None, "price").expect_err("absent")),
            "price"
        );
        let at = instant("2026-11-27T01:00:00+01:00", "validFrom").expect("offset");
        assert_eq!(instant_to_pb(at), "2026-11-27T00:00:00Z");
        for bad in ["2026-11-27", "yesterday", "2026-13-01T00:00:00Z"] {
            assert_eq!(
                field_of(&instant(bad, "validFrom").expect_err(bad)),
                "validFrom"
            );
        }
    }
}
