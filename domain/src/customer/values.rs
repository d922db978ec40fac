//! Validated value objects of the customer context. Parsing normalises (trims, lower-cases the
//! e-mail) and rejects with an error naming the API field.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::errors::CustomerError;
use super::limits::{
    MAX_ADDRESS_FIELD_CHARS, MAX_EMAIL_CHARS, MAX_NAME_CHARS, MAX_PHONE_DIGITS, MAX_SEGMENT_CHARS,
    MIN_PHONE_DIGITS,
};
// Still reachable at their old path: they were public here before `limits.rs` existed.
pub use super::limits::{MAX_ADDRESSES, MAX_PHONE_CHARS, MAX_SEGMENTS};

/// A syntactically valid e-mail address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, CustomerError> {
        let invalid = |reason: &str| Err(CustomerError::invalid("email", reason));
        let email = match crate::text::clean(raw) {
            Ok(email) => email.to_lowercase(),
            Err(issue) => return invalid(issue.reason()),
        };
        if email.is_empty() {
            return invalid("must not be empty");
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return invalid(&format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid("must contain '@'");
        };
        if local.is_empty() || domain.contains('@') {
            return invalid("must have exactly one '@' with a local part before it");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
            return invalid("must have a domain with a dot, like example.com");
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return invalid("must not contain spaces or the characters <>,;");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A trimmed, non-empty person name of at most [`MAX_NAME_CHARS`] characters.
pub fn person_name(raw: &str, field: &'static str) -> Result<String, CustomerError> {
    let name =
        crate::text::clean(raw).map_err(|issue| CustomerError::invalid(field, issue.reason()))?;
    let name = name.as_str();
    if name.is_empty() {
        return Err(CustomerError::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CustomerError::invalid(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(CustomerError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// A phone number: an optional leading `+`, then [`MIN_PHONE_DIGITS`] to [`MAX_PHONE_DIGITS`]
/// digits, spaces or dashes, at most [`MAX_PHONE_CHARS`] characters in all. An empty string
/// means "no phone number".
pub fn optional_phone(raw: &str) -> Result<Option<String>, CustomerError> {
    let phone = raw.trim();
    if phone.is_empty() {
        return Ok(None);
    }
    let refuse = || {
        Err(CustomerError::invalid(
            "phone",
            format!(
                "must be an international number: '+', the country code and the number, \
                 {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits in all (spaces, dashes, dots \
                 and parentheses are allowed and dropped), at most {MAX_PHONE_CHARS} characters"
            ),
        ))
    };
    if phone.chars().count() > MAX_PHONE_CHARS {
        return refuse();
    }
    let Some(number) = phone.strip_prefix('+') else {
        return refuse();
    };
    let mut digits = String::with_capacity(number.len());
    for c in number.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return refuse(),
        }
    }
    // E.164: the country code never starts with 0.
    if !(MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len()) || digits.starts_with('0') {
        return refuse();
    }
    Ok(Some(format!("+{digits}")))
}

/// A set of segment names: each 1 to [`MAX_SEGMENT_CHARS`] letters, digits, `-` or `_`; at most
/// [`MAX_SEGMENTS`].
pub fn segments(raw: &[String]) -> Result<BTreeSet<String>, CustomerError> {
    let mut set = BTreeSet::new();
    for name in raw {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= MAX_SEGMENT_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(CustomerError::invalid(
                "segments",
                format!(
                    "{} is not a segment name (1-{MAX_SEGMENT_CHARS} letters, digits, '-' or '_')",
                    quoted_prefix(name)
                ),
            ));
        }
        set.insert(name.to_owned());
    }
    if set.len() > MAX_SEGMENTS {
        return Err(CustomerError::invalid(
            "segments",
            format!("at most {MAX_SEGMENTS} segments"),
        ));
    }
    Ok(set)
}

/// A postal address. `line1`, `city` and `country` (ISO 3166-1 alpha-2) are required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    pub country: String,
    #[serde(default)]
    pub label: String,
}

impl Address {
    /// The address trimmed, with the country upper-cased, or the first invalid field.
    pub fn validated(self) -> Result<Self, CustomerError> {
        let required = |value: &str, field: &'static str| {
            let value = crate::text::clean(value)
                .map_err(|issue| CustomerError::invalid(field, issue.reason()))?;
            if value.is_empty() {
                Err(CustomerError::invalid(field, "must not be empty"))
            } else if value.chars().count() > MAX_ADDRESS_FIELD_CHARS {
                Err(CustomerError::invalid(
                    field,
                    format!("must be at most {MAX_ADDRESS_FIELD_CHARS} characters"),
                ))
            } else {
                Ok(value)
            }
        };
        let optional = |value: &str, field: &'static str| {
            let value = crate::text::clean(value)
                .map_err(|issue| CustomerError::invalid(field, issue.reason()))?;
            if value.chars().count() > MAX_ADDRESS_FIELD_CHARS {
                Err(CustomerError::invalid(
                    field,
                    format!("must be at most {MAX_ADDRESS_FIELD_CHARS} characters"),
                ))
            } else {
                Ok(value)
            }
        };
        let country = self.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(CustomerError::invalid(
                "address.country",
                "must be an ISO 3166-1 alpha-2 code such as \"DE\"",
            ));
        }
        Ok(Self {
            line1: required(&self.line1, "address.line1")?,
            line2: optional(&self.line2, "address.line2")?,
            city: required(&self.city, "address.city")?,
            region: optional(&self.region, "address.region")?,
            postal_code: optional(&self.postal_code, "address.postalCode")?,
            country,
            label: optional(&self.label, "address.label")?,
        })
    }
}

/// A rejected value as an error message may show it: quoted, at most 40 characters (an
/// invalid value is never echoed back unbounded).
fn quoted_prefix(value: &str) -> String {
    const SHOWN: usize = 40;
    let mut chars = value.chars();
    let prefix: String = chars.by_ref().take(SHOWN).collect();
    if chars.next().is_some() {
        format!("{prefix:?}…")
    } else {
        format!("{prefix:?}")
    }
}
