//! The OpenAPI document, generated from the handlers. Served at `/openapi.json` and written to
//! `docs/api/openapi.json` by `shopcore-gateway openapi`.

use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};

use utoipa::openapi::schema::ArrayItems;
use utoipa::openapi::{Ref, RefOr, Schema};
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
    modifiers(&BearerTokens, &InputLimits)
)]
pub struct ApiDoc;

/// The limits the domain enforces, stated in the document from the same constants
/// (`shopcore_domain::customer::limits`), so the contract and the server cannot drift apart.
struct InputLimits;

/// Sets `maxLength` (and a `pattern`) on a string property of a schema.
fn limit_string(
    schemas: &mut BTreeMap<String, RefOr<Schema>>,
    schema: &str,
    property: &str,
    max_length: usize,
    pattern: Option<&str>,
) {
    let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(property) {
        field.max_length = Some(max_length);
        field.min_length = field.min_length.or(Some(0));
        if let Some(pattern) = pattern {
            field.pattern = Some(pattern.to_owned());
        }
    }
}

impl Modify for InputLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use shopcore_domain::customer::limits::*;
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = &mut components.schemas;
        // The phone as typed: '+', then digits with optional separators.
        let phone = r"^\s*\+[0-9 ().-]*\s*$|^\s*$";
        for schema in ["CreateCustomer", "UpdateCustomer"] {
            limit_string(schemas, schema, "email", MAX_EMAIL_CHARS, None);
            limit_string(schemas, schema, "firstName", MAX_NAME_CHARS, None);
            limit_string(schemas, schema, "lastName", MAX_NAME_CHARS, None);
            limit_string(schemas, schema, "phone", MAX_PHONE_CHARS, Some(phone));
        }
        for property in ["label", "line1", "line2", "city", "region", "postalCode"] {
            limit_string(
                schemas,
                "AddressBody",
                property,
                MAX_ADDRESS_FIELD_CHARS,
                None,
            );
        }
        limit_string(schemas, "AddressBody", "country", 2, Some("^[A-Za-z]{2}$"));
        if let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut("AssignSegments") {
            if let Some(RefOr::T(Schema::Array(segments))) = object.properties.get_mut("segments") {
                segments.max_items = Some(MAX_SEGMENTS);
                if let ArrayItems::RefOrSchema(item) = &mut segments.items {
                    if let RefOr::T(Schema::Object(item)) = item.as_mut() {
                        item.max_length = Some(MAX_SEGMENT_CHARS);
                        item.min_length = Some(1);
                        item.pattern = Some(r"^\s*[A-Za-z0-9_-]+\s*$".to_owned());
                    }
                }
            }
        }
        // Headers: the idempotency key's length, the position token's form.
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
                for parameter in operation.parameters.iter_mut().flatten() {
                    let (max_length, pattern) = match parameter.name.as_str() {
                        "Idempotency-Key" => (200, r"^\s*[\x21-\x7E][\x20-\x7E]*$"),
                        "Shopcore-Min-Position" => (40, r"^\s*[0-9]{1,19}-[0-9]{1,19}\s*$"),
                        "If-Match" => (40, r#"^\s*(W/)?"?[0-9]{1,19}"?\s*$"#),
                        _ => continue,
                    };
                    if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() {
                        schema.max_length = Some(max_length);
                        schema.pattern = Some(pattern.to_owned());
                    }
                }
            }
        }
    }
}

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
