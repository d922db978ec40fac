//! The values of pricing requests as the OpenAPI document states them, checked exactly (no
//! trimming: `" EUR"` is refused, not read as `EUR`; the domain then trims and normalises
//! free text), and the REST views of wire money and rule actions.

use serde::Deserialize;
use shopcore_domain::catalog::values::clean_sku;
use shopcore_domain::money::Currency;
use shopcore_projections::catalog::read_model::{whole, MoneyView};
use shopcore_projections::pricing::read_model::RuleActionView;
use shopcore_proto::pricing::v1 as pb;

use crate::problem::Problem;

/// A field that, when present, holds a value: `null` is refused (absent means "not given").
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A present whole `i64` (also written `42.0`).
pub(crate) fn some_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    whole::i64(d).map(Some)
}

/// Free text as typed: 1 to `max` characters (before trimming, as the document counts them)
/// and nothing invisible; the domain trims and normalises it.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<(), Problem> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(Problem::invalid(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    let clean = shopcore_domain::text::clean(value)
        .map_err(|issue| Problem::invalid(field, issue.reason()))?;
    if clean.is_empty() {
        return Err(Problem::invalid(field, "must not be blank"));
    }
    Ok(())
}

/// A SKU exactly as the catalog writes them: no surrounding spaces.
pub(crate) fn sku(field: &str, value: &str) -> Result<(), Problem> {
    let clean = clean_sku(value).map_err(|reason| Problem::invalid(field, reason))?;
    if clean != value {
        return Err(Problem::invalid(field, "must not have surrounding spaces"));
    }
    Ok(())
}

/// An ISO 4217 code the domain supports, exactly (upper case, no spaces).
pub(crate) fn currency(field: &str, value: &str) -> Result<(), Problem> {
    Currency::parse(value)
        .map(|_| ())
        .map_err(|_| Problem::invalid(field, "must be a supported ISO 4217 code in upper case"))
}

/// An RFC 3339 instant, exactly (chrono also reads a space for the `T`, which the
/// document's `date-time` does not allow).
pub(crate) fn instant(field: &str, value: &str) -> Result<(), Problem> {
    let separator = value.as_bytes().get(10).copied();
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .filter(|_| matches!(separator, Some(b'T' | b't')))
        .map(|_| ())
        .ok_or_else(|| {
            Problem::invalid(
                field,
                "must be an RFC 3339 instant, e.g. 2026-11-27T00:00:00Z",
            )
        })
}

/// Money of a request body: a supported currency (signs are the domain's business).
pub(crate) fn money(field: &str, value: MoneyView) -> Result<pb::Money, Problem> {
    currency(&format!("{field}.currency"), &value.currency)?;
    Ok(pb::Money {
        amount_minor: value.amount,
        currency: value.currency,
    })
}

/// A percentage as typed: a decimal with at most two decimals, above 0, at most 100.
pub(crate) fn percent(field: &str, value: &str) -> Result<String, Problem> {
    match shopcore_domain::money::Percent::parse(value) {
        Ok(p) if p.basis_points() > 0 => Ok(value.to_owned()),
        _ => Err(Problem::invalid(
            field,
            "must be a decimal above 0 and at most 100 with at most 2 decimals, e.g. \"12.5\"",
        )),
    }
}

/// The REST view of wire money.
pub(crate) fn money_view(money: Option<pb::Money>) -> MoneyView {
    let money = money.unwrap_or_default();
    MoneyView {
        amount: money.amount_minor,
        currency: money.currency,
    }
}

/// The REST view of a wire action.
pub(crate) fn action_view(action: Option<pb::RuleAction>) -> RuleActionView {
    use pb::rule_action::Action;
    match action.and_then(|a| a.action) {
        Some(Action::SetPrice(price)) => RuleActionView::SetPrice {
            price: money_view(Some(price)),
        },
        Some(Action::AmountOff(amount)) => RuleActionView::AmountOff {
            amount: money_view(Some(amount)),
        },
        Some(Action::PercentOff(percent)) => RuleActionView::PercentOff { percent },
        None => RuleActionView::PercentOff {
            percent: String::new(),
        },
    }
}
