//! The input limits of the customer context: one source of truth for the limits the domain
//! enforces; the API documents reuse them. Both the value objects (which check them) and the
//! errors (whose messages state them) import from here, so neither has to import the other.

/// At most this many addresses per customer.
pub const MAX_ADDRESSES: usize = 50;

/// At most this many segments per customer.
pub const MAX_SEGMENTS: usize = 32;

/// A segment name is at most this long.
pub const MAX_SEGMENT_CHARS: usize = 64;

/// A first or last name is at most this long, after trimming.
pub const MAX_NAME_CHARS: usize = 100;

/// An e-mail address is at most this long, after trimming.
pub const MAX_EMAIL_CHARS: usize = 254;

/// A phone number is at most this long, separators included.
pub const MAX_PHONE_CHARS: usize = 32;

/// A phone number has at least this many digits, country code included.
pub const MIN_PHONE_DIGITS: usize = 7;

/// A phone number has at most this many digits, country code included (E.164).
pub const MAX_PHONE_DIGITS: usize = 15;

/// Each field of a postal address (other than the two-letter country) is at most this long,
/// after trimming.
pub const MAX_ADDRESS_FIELD_CHARS: usize = 200;
