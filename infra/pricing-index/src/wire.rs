//! The pricing wire formats, shared by the command service's pricing services and the price
//! queries: money as minor units, percentages and rates as exact decimal strings, instants as
//! RFC 3339 — each parsed into the domain's type or refused with `INVALID_ARGUMENT` naming the
//! field.

use chrono::{DateTime, SecondsFormat, Utc};
use tonic::Status;
use uuid::Uuid;

use shopcore_domain::money::{Currency, Money, Percent};
use shopcore_domain::pricing::{PriceRuleDefinition, RuleAction, RuleConditions, RuleTargets};
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::{error_status, ErrorCode};

/// `INVALID_ARGUMENT` naming `field`.
pub fn invalid(field: &str, reason: &str) -> Status {
    error_status(
        ErrorCode::InvalidArgument,
        format!("{field}: {reason}"),
        Some(field),
        None,
    )
}

/// A UUID field of a request, or `INVALID_ARGUMENT` naming it.
pub fn parse_uuid(value: &str, field: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(value.trim()).map_err(|_| invalid(field, "must be a UUID"))
}

/// An ISO 4217 code the domain supports (upper case, as the money module requires).
pub fn currency(code: &str, field: &str) -> Result<Currency, Status> {
    Currency::parse(code.trim())
        .map_err(|_| invalid(field, "must be a supported ISO 4217 code in upper case"))
}

/// Money of a request: required, in a supported currency. Signs are the domain's business.
pub fn money(value: Option<pb::Money>, field: &str) -> Result<Money, Status> {
    let value = value.ok_or_else(|| invalid(field, "is required"))?;
    let currency = currency(&value.currency, &format!("{field}.currency"))?;
    Ok(Money::new(value.amount_minor, currency))
}

pub fn money_to_pb(money: Money) -> pb::Money {
    pb::Money {
        amount_minor: money.amount(),
        currency: money.currency().code().to_owned(),
    }
}

/// A percentage as an exact decimal string ("12.5"), never a float.
pub fn percent(text: &str, field: &str) -> Result<Percent, Status> {
    Percent::parse(text.trim()).map_err(|_| {
        invalid(
            field,
            "must be a decimal from 0 to 100 with at most 2 decimals",
        )
    })
}

/// An instant in RFC 3339 ("2026-11-27T00:00:00Z", any offset).
pub fn instant(text: &str, field: &str) -> Result<DateTime<Utc>, Status> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            invalid(
                field,
                "must be an RFC 3339 instant, e.g. 2026-11-27T00:00:00Z",
            )
        })
}

pub fn instant_to_pb(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The domain's definition of a wire definition; parse errors name the field as the domain
/// does (`conditions.validFrom`, `action.price`).
pub fn definition_from_pb(
    definition: Option<pb::PriceRuleDefinition>,
) -> Result<PriceRuleDefinition, Status> {
    let definition = definition.ok_or_else(|| invalid("definition", "is required"))?;
    let targets = definition.targets.unwrap_or_default();
    let conditions = definition.conditions.unwrap_or_default();
    let action = match definition.action.and_then(|a| a.action) {
        None => {
            return Err(invalid(
                "action",
                "is required: setPrice, percentOff or amountOff",
            ))
        }
        Some(pb::rule_action::Action::SetPrice(price)) => RuleAction::SetPrice {
            price: money(Some(price), "action.price")?,
        },
        Some(pb::rule_action::Action::PercentOff(text)) => RuleAction::PercentOff {
            percent: percent(&text, "action.percent")?,
        },
        Some(pb::rule_action::Action::AmountOff(amount)) => RuleAction::AmountOff {
            amount: money(Some(amount), "action.amount")?,
        },
    };
    Ok(PriceRuleDefinition {
        name: definition.name,
        targets: RuleTargets {
            skus: targets.skus.into_iter().collect(),
            categories: targets.categories.into_iter().collect(),
        },
        priority: definition.priority,
        conditions: RuleConditions {
            customer_segments: conditions.customer_segments.into_iter().collect(),
            channels: conditions.channels.into_iter().collect(),
            regions: conditions.regions.into_iter().collect(),
            currency: conditions
                .currency
                .map(|c| currency(&c, "conditions.currency"))
                .transpose()?,
            valid_from: conditions
                .valid_from
                .map(|t| instant(&t, "conditions.validFrom"))
                .transpose()?,
            valid_until: conditions
                .valid_until
                .map(|t| instant(&t, "conditions.validUntil"))
                .transpose()?,
            min_quantity: conditions.min_quantity,
        },
        action,
        exclusive: definition.exclusive,
    })
}

/// A rule's action on the wire.
pub fn action_to_pb(action: RuleAction) -> pb::RuleAction {
    let action = match action {
        RuleAction::SetPrice { price } => pb::rule_action::Action::SetPrice(money_to_pb(price)),
        RuleAction::PercentOff { percent } => {
            pb::rule_action::Action::PercentOff(percent.to_decimal_string())
        }
        RuleAction::AmountOff { amount } => pb::rule_action::Action::AmountOff(money_to_pb(amount)),
    };
    pb::RuleAction {
        action: Some(action),
    }
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
