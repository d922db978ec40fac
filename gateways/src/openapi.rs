//! The OpenAPI document, generated from the handlers. Served at `/openapi.json` and written to
//! `docs/api/openapi.json` by `shopcore-gateway openapi`.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::Ref;
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;
use crate::routes::{addresses, customers};
use shopcore_projections::customer::{AddressView, CustomerView};

#[derive(OpenApi)]
#[openapi(
    info(title = "Shopcore REST API", description = "Customer, catalog, pricing and cart over Shopcore's read models. Writes become gRPC commands; errors are application/problem+json."),
    paths(
        customers::create_customer,
        customers::get_customer,
        customers::update_customer,
        customers::assign_segments,
        addresses::add_address,
        addresses::update_address,
        addresses::remove_address,
    ),
    components(schemas(
        CustomerView,
        AddressView,
        Problem,
        customers::CreateCustomer,
        customers::UpdateCustomer,
        customers::AssignSegments,
        addresses::AddressBody,
    )),
    tags((name = "customers", description = "Customer profiles and segments")),
    modifiers(&BearerTokens)
)]
pub struct ApiDoc;

/// Every documented operation needs a bearer token: the security scheme, and the 401 and 403
/// answers, are added to all of them here rather than repeated on each handler.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An OAuth2-style JWT whose `scope` claim lists the scopes of the README \
                         (`view_customers`, `manage_customers`, …); `shopcore-gateway token` mints \
                         one for development.",
                    ))
                    .build(),
            ),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for path in openapi.paths.paths.values_mut() {
            for operation in [
                &mut path.get,
                &mut path.put,
                &mut path.post,
                &mut path.delete,
                &mut path.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
                operation.responses.responses.insert(
                    "401".to_owned(),
                    problem("No valid bearer token (`WWW-Authenticate` says why)").into(),
                );
                operation.responses.responses.insert(
                    "403".to_owned(),
                    problem("The token lacks the scope this needs (`scope` names it)").into(),
                );
            }
        }
    }
}

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
