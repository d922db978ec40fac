//! Coupon codes: how a code is normalised, and the directory the `Promotion` aggregate asks
//! whether another promotion holds a code already.
//!
//! A code is trimmed and upper-cased before anything else sees it, so `save10` and `SAVE10` are
//! one code everywhere (within one command, within one promotion and across promotions). The
//! directory gives a clear rejection before the append; the command service also reserves each
//! code in the append transaction, so two promotions racing for one code cannot both get it.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::promotion::PromotionError;

/// At most this many codes in one command.
pub const MAX_CODES_PER_COMMAND: usize = 1_000;

/// A coupon code trimmed and upper-cased: 3 to 32 letters, digits, `-` or `_`.
pub fn normalize_coupon_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(code)
    } else {
        Err("must be 3 to 32 letters, digits, '-' or '_'".into())
    }
}

/// The codes of a command, normalised, in the order given, repeats (after normalisation)
/// dropped.
pub(crate) fn coupon_codes(raw: &[String]) -> Result<Vec<String>, PromotionError> {
    if raw.len() > MAX_CODES_PER_COMMAND {
        return Err(PromotionError::invalid(
            "couponCodes",
            format!("at most {MAX_CODES_PER_COMMAND} codes at a time"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut codes = Vec::with_capacity(raw.len());
    for code in raw {
        let code = normalize_coupon_code(code)
            .map_err(|reason| PromotionError::invalid("couponCodes", reason))?;
        if seen.insert(code.clone()) {
            codes.push(code);
        }
    }
    Ok(codes)
}

/// Which promotion, if any, holds coupon codes.
#[async_trait]
pub trait CouponCodeDirectory: Send + Sync {
    /// Those of `codes` (normalised) that a promotion holds, each with that promotion.
    async fn holders(&self, codes: &[String]) -> Result<Vec<(String, Uuid)>, String>;
}

/// A directory in which no code is taken: for tests and tools that reserve codes elsewhere.
pub struct NoCouponCodes;

#[async_trait]
impl CouponCodeDirectory for NoCouponCodes {
    async fn holders(&self, _codes: &[String]) -> Result<Vec<(String, Uuid)>, String> {
        Ok(Vec::new())
    }
}

/// What the Promotion aggregate needs from outside.
#[derive(Clone)]
pub struct PromotionServices {
    pub coupons: Arc<dyn CouponCodeDirectory>,
}

impl Default for PromotionServices {
    fn default() -> Self {
        Self {
            coupons: Arc::new(NoCouponCodes),
        }
    }
}

/// Rejects codes another promotion than `me` holds.
pub(crate) async fn ensure_codes_free(
    codes: &[String],
    me: Uuid,
    services: &PromotionServices,
) -> Result<(), PromotionError> {
    if codes.is_empty() {
        return Ok(());
    }
    let holders = services
        .coupons
        .holders(codes)
        .await
        .map_err(PromotionError::LookupFailed)?;
    // The first code of the command that another promotion holds, for a stable message.
    let taken = codes.iter().find(|code| {
        holders
            .iter()
            .any(|(held, owner)| held == *code && *owner != me)
    });
    match taken {
        Some(code) => Err(PromotionError::CouponCodeTaken(code.clone())),
        None => Ok(()),
    }
}
