//! The OpenAPI document, generated from the handlers. Served at `/openapi.json` and written to
//! `docs/api/openapi.json` by `shopcore-gateway openapi`.

use utoipa::OpenApi;

use crate::problem::Problem;
use crate::routes::customers;
use shopcore_projections::customer::{AddressView, CustomerView};

#[derive(OpenApi)]
#[openapi(
    info(title = "Shopcore REST API", description = "Customer, catalog, pricing and cart over Shopcore's read models. Writes become gRPC commands; errors are application/problem+json."),
    paths(
        customers::create_customer,
        customers::get_customer,
        customers::update_customer,
        customers::assign_segments,
    ),
    components(schemas(
        CustomerView,
        AddressView,
        Problem,
        customers::CreateCustomer,
        customers::UpdateCustomer,
        customers::AssignSegments,
    )),
    tags((name = "customers", description = "Customer profiles and segments"))
)]
pub struct ApiDoc;

/// The document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    /// `docs/api/openapi.json` is what the code generates (CI fails on drift).
    #[test]
    fn docs_api_openapi_json_is_up_to_date() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api/openapi.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed.trim_end() == super::openapi_json().trim_end(),
            "{} is out of date: run `cargo run -q --bin shopcore-gateway -- openapi > docs/api/openapi.json`",
            path.display()
        );
    }
}
