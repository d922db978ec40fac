//! How adapters classify a rejected command. Every aggregate's error enum maps onto this, so the
//! gRPC status and the HTTP status of a rejection agree.

/// The class of a domain rejection (never an infrastructure failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainErrorKind {
    /// The command's input is malformed (gRPC `INVALID_ARGUMENT`, HTTP 400).
    InvalidArgument,
    /// The aggregate or an entity it names does not exist (gRPC `NOT_FOUND`, HTTP 404).
    NotFound,
    /// The command clashes with existing state, e.g. a duplicate (gRPC `ALREADY_EXISTS`, HTTP 409).
    Conflict,
    /// The aggregate is in a state that forbids the command (gRPC `FAILED_PRECONDITION`, HTTP 409).
    FailedPrecondition,
    /// A service the domain asked (a lookup) did not answer; retrying later may succeed.
    Unavailable,
    /// The aggregate has ended for good and takes no more changes, e.g. an expired cart
    /// (gRPC `FAILED_PRECONDITION` with code `gone`, HTTP 410).
    Gone,
    /// Prices the caller did not see yet would apply; it may accept them and retry (gRPC
    /// `FAILED_PRECONDITION` with code `prices-changed`, HTTP 409).
    PricesChanged,
}
