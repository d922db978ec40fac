//! A place in the global log.
//!
//! Appends commit in parallel, so the order of `position` (drawn from a sequence while the
//! transaction runs) is not the order in which events become visible. The log is therefore read
//! in `(tx, position)` order, where `tx` is the writing transaction's id, and only below the
//! oldest transaction still running (see [`crate::log`]); a reader's checkpoint is the pair of
//! the last event it handled. Its text form `"<tx>-<position>"` is the `Shopcore-Position`
//! token clients get from a write and send back to read their own writes; treat it as opaque.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A place in the global log: the writing transaction and the event's position. Ordered the
/// way the log is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    /// Id of the transaction that wrote the event (Postgres `xid8`).
    pub tx: u64,
    /// The event's position, unique across the log.
    pub position: u64,
}

impl LogPosition {
    /// Before the first event.
    pub const START: Self = Self { tx: 0, position: 0 };

    pub const fn new(tx: u64, position: u64) -> Self {
        Self { tx, position }
    }

    pub fn is_start(&self) -> bool {
        *self == Self::START
    }

    /// The pair as the `bigint`s Postgres and MySQL store.
    pub fn as_i64(&self) -> (i64, i64) {
        (clamp(self.tx), clamp(self.position))
    }
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.position)
    }
}

/// A text that is not a log position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a position token as returned in Shopcore-Position, e.g. \"1042-17\"")]
pub struct InvalidPosition;

impl FromStr for LogPosition {
    type Err = InvalidPosition;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (tx, position) = text.trim().split_once('-').ok_or(InvalidPosition)?;
        let number = |part: &str| {
            if part.is_empty() || part.len() > 19 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidPosition);
            }
            part.parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(InvalidPosition)
        };
        Ok(Self {
            tx: number(tx)?,
            position: number(position)?,
        })
    }
}

impl Serialize for LogPosition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogPosition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_rejects_everything_else() {
        let position = LogPosition::new(1042, 17);
        assert_eq!(position.to_string(), "1042-17");
        assert_eq!("1042-17".parse(), Ok(position));
        assert_eq!(" 0-0 ".parse(), Ok(LogPosition::START));
        for bad in [
            "",
            "-",
            "17",
            "1042-",
            "-17",
            "1042--17",
            "+1-2",
            "1-2-3",
            "a-1",
            "1-١",
            "1 -2",
            "99999999999999999999-1",
            "9223372036854775808-1",
        ] {
            assert_eq!(bad.parse::<LogPosition>(), Err(InvalidPosition), "{bad:?}");
        }
    }

    #[test]
    fn ordered_by_transaction_first() {
        assert!(LogPosition::new(5, 100) < LogPosition::new(6, 1));
        assert!(LogPosition::new(6, 1) < LogPosition::new(6, 2));
        assert!(LogPosition::START < LogPosition::new(0, 1));
    }

    #[test]
    fn serialised_as_the_token() {
        let json = serde_json::to_string(&LogPosition::new(3, 9)).unwrap();
        assert_eq!(json, "\"3-9\"");
        let back: LogPosition = serde_json::from_str(&json).unwrap();
        assert_eq!(back, LogPosition::new(3, 9));
    }
}
