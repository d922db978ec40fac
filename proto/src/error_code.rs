//! One error-code enum shared by the gRPC and REST edges, so both report a failure the same way.

/// A stable error code. Both the gRPC status and the HTTP status derive from it, and the REST
/// problem `type` is `https://shopcore.dev/problems/{as_str}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Malformed input; the detail names the field.
    InvalidArgument,
    /// The aggregate or entity does not exist.
    NotFound,
    /// A duplicate or other clash with existing state.
    Conflict,
    /// The expected version did not match the aggregate's current version.
    VersionConflict,
    /// The aggregate's state forbids the command.
    FailedPrecondition,
    /// A dependency is unavailable; retry later.
    Unavailable,
    /// Anything else. Details are logged, never sent.
    Internal,
    /// No valid bearer token.
    Unauthenticated,
    /// The token does not allow the request.
    PermissionDenied,
    /// Well-formed, but refused as it stands: an idempotency key reused with another request.
    Unprocessable,
    /// The resource existed and has ended for good (an expired cart): HTTP 410.
    Gone,
    /// A checkout found prices other than the cart's and was not told to accept them.
    PricesChanged,
}

impl ErrorCode {
    pub const ALL: [Self; 12] = [
        Self::InvalidArgument,
        Self::NotFound,
        Self::Conflict,
        Self::VersionConflict,
        Self::FailedPrecondition,
        Self::Unavailable,
        Self::Internal,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::Unprocessable,
        Self::Gone,
        Self::PricesChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid-argument",
            Self::NotFound => "not-found",
            Self::Conflict => "conflict",
            Self::VersionConflict => "version-conflict",
            Self::FailedPrecondition => "failed-precondition",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission-denied",
            Self::Unprocessable => "unprocessable",
            Self::Gone => "gone",
            Self::PricesChanged => "prices-changed",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn grpc_code(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::NotFound => tonic::Code::NotFound,
            Self::Conflict => tonic::Code::AlreadyExists,
            Self::VersionConflict => tonic::Code::Aborted,
            Self::FailedPrecondition => tonic::Code::FailedPrecondition,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Internal => tonic::Code::Internal,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::PermissionDenied => tonic::Code::PermissionDenied,
            Self::Unprocessable => tonic::Code::InvalidArgument,
            Self::Gone | Self::PricesChanged => tonic::Code::FailedPrecondition,
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument => 400,
            Self::NotFound => 404,
            Self::Conflict
            | Self::VersionConflict
            | Self::FailedPrecondition
            | Self::PricesChanged => 409,
            Self::Gone => 410,
            Self::Unavailable => 503,
            Self::Internal => 500,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::Unprocessable => 422,
        }
    }

    /// The code of a status received over gRPC: from its details when present, else from the
    /// status code alone.
    pub fn from_status(
        status: &tonic::Status,
    ) -> (Self, Option<crate::common::v1::CommandErrorDetail>) {
        let detail = crate::decode_error_detail(status);
        if let Some(code) = detail.as_ref().and_then(|d| Self::parse(&d.code)) {
            return (code, detail);
        }
        let code = match status.code() {
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => Self::InvalidArgument,
            tonic::Code::NotFound => Self::NotFound,
            tonic::Code::AlreadyExists => Self::Conflict,
            tonic::Code::Aborted => Self::VersionConflict,
            tonic::Code::FailedPrecondition => Self::FailedPrecondition,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Self::Unavailable,
            tonic::Code::Unauthenticated => Self::Unauthenticated,
            tonic::Code::PermissionDenied => Self::PermissionDenied,
            _ => Self::Internal,
        };
        (code, detail)
    }
}
