//! The gRPC command API of Shopcore, generated from `proto/` by tonic/prost.
//!
//! - [`common`]: options and results shared by every command.
//! - [`customer`]: the `CustomerCommands` service.
//! - [`catalog`]: the `ProductCommands` and `CategoryCommands` services.
//! - [`pricing`]: the `PriceBookCommands`, `PriceRuleCommands`, `PromotionCommands` and
//!   `CurrencyRateCommands` services, and the `PricingQueries` service.
//! - [`cart`]: the `CartCommands` service.
//! - [`ErrorCode`]: the one error-code enum, mapped to gRPC and HTTP statuses.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for server reflection.

mod error_code;

pub use error_code::ErrorCode;

pub mod common {
    pub mod v1 {
        tonic::include_proto!("shopcore.common.v1");
    }
}

pub mod catalog {
    pub mod v1 {
        tonic::include_proto!("shopcore.catalog.v1");
    }
}

pub mod pricing {
    pub mod v1 {
        tonic::include_proto!("shopcore.pricing.v1");
    }
}

pub mod cart {
    pub mod v1 {
        tonic::include_proto!("shopcore.cart.v1");
    }
}

pub mod customer {
    pub mod v1 {
        tonic::include_proto!("shopcore.customer.v1");
    }
}

/// Encoded `FileDescriptorSet` of every `.proto` file, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("shopcore_descriptor");

/// A status whose details carry a [`common::v1::CommandErrorDetail`].
pub fn error_status(
    code: ErrorCode,
    message: impl Into<String>,
    field: Option<&str>,
    current_version: Option<u64>,
) -> tonic::Status {
    let detail = common::v1::CommandErrorDetail {
        code: code.as_str().to_owned(),
        field: field.unwrap_or_default().to_owned(),
        current_version,
    };
    tonic::Status::with_details(
        code.grpc_code(),
        message,
        prost::Message::encode_to_vec(&detail).into(),
    )
}

/// The detail attached by [`error_status`], if any.
pub fn decode_error_detail(status: &tonic::Status) -> Option<common::v1::CommandErrorDetail> {
    if status.details().is_empty() {
        return None;
    }
    prost::Message::decode(status.details()).ok()
}
