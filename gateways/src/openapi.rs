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
