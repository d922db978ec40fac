//! The limits of the cart routes in the OpenAPI document, from the constants and rules the
//! gateway and the domain check (`routes::carts`, `routes::cart_writes`, the domain's
//! `clean_sku`, `normalize_coupon_code`, `CartSettings`, the known currencies), and the links
//! from the answer that opens a cart to the operations on it.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::Modify;

use super::{set_property, text_schema};
use crate::routes::cart_writes::MAX_LABEL_CHARS;
use crate::routes::carts::{MAX_SESSION_TOKEN_CHARS, SESSION_HEADER_NAME, SESSION_TOKEN_PATTERN};

/// A SKU as `clean_sku` keeps it (the gateway refuses what it would trim).
const SKU: &str = "^[A-Za-z0-9._-]+$";
/// A coupon code as typed (`normalize_coupon_code` upper-cases it).
const COUPON_CODE: &str = "^[A-Za-z0-9_-]{3,32}$";
/// A channel or region: no control characters (C0, DEL, C1).
const LABEL: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

pub(super) struct CartLimits;

fn quantity() -> Schema {
    let max = shopcore_domain::cart::CartSettings::default().max_quantity_per_line;
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(f64::from(max)))
            .description(Some(format!(
                "1 to the deployment's `CART_MAX_QUANTITY_PER_LINE` ({max} unless configured)"
            )))
            .build(),
    )
}

/// A label that may be absent or null.
fn label() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .max_length(Some(MAX_LABEL_CHARS))
            .pattern(Some(LABEL))
            .build(),
    )
}

fn currency() -> Schema {
    let codes: Vec<&str> = shopcore_domain::money::currency::KNOWN
        .iter()
        .map(|(code, _)| *code)
        .collect();
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes))
            .build(),
    )
}

fn session_token() -> Schema {
    text_schema(1, MAX_SESSION_TOKEN_CHARS, SESSION_TOKEN_PATTERN)
}

impl Modify for CartLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use shopcore_domain::catalog::values::MAX_SKU_CHARS;
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/carts") {
                continue;
            }
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for parameter in operation.parameters.iter_mut().flatten() {
                    let schema = match (parameter.parameter_in.clone(), parameter.name.as_str()) {
                        (ParameterIn::Path, "sku") => text_schema(1, MAX_SKU_CHARS, SKU),
                        (ParameterIn::Path, "token") => session_token(),
                        (ParameterIn::Header, name) if name == SESSION_HEADER_NAME => {
                            session_token()
                        }
                        _ => continue,
                    };
                    parameter.schema = Some(RefOr::T(schema));
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = &mut components.schemas;
        set_property(schemas, "CreateCartBody", "currency", currency());
        for property in ["channel", "region"] {
            set_property(schemas, "CreateCartBody", property, label());
        }
        set_property(
            schemas,
            "AddItemBody",
            "sku",
            text_schema(1, MAX_SKU_CHARS, SKU),
        );
        set_property(schemas, "AddItemBody", "quantity", quantity());
        set_property(schemas, "ChangeQuantityBody", "quantity", quantity());
        set_property(
            schemas,
            "ApplyCouponBody",
            "code",
            text_schema(3, 32, COUPON_CODE),
        );
    }
}

/// Links from `POST /carts` to the operations on the cart it opened (with the cart's id, and
/// its session token for the lookup by session), and from `POST /carts/{id}/items` to the
/// operations on the line it added.
pub(super) struct CartLinks;

impl Modify for CartLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let line = openapi
            .paths
            .paths
            .get_mut("/carts/{id}/items")
            .and_then(|item| item.post.as_mut())
            .and_then(|post| post.responses.responses.get_mut("200"));
        if let Some(RefOr::T(response)) = line {
            for (name, operation) in [
                ("ChangeCartItem", "change_cart_item"),
                ("RemoveCartItem", "remove_cart_item"),
            ] {
                let link = LinkBuilder::new()
                    .operation_id(operation)
                    .parameter("id", "$request.path.id")
                    .parameter("sku", "$request.body#/sku")
                    .build();
                response.links.insert(name.to_owned(), RefOr::T(link));
            }
        }
        let response = openapi
            .paths
            .paths
            .get_mut("/carts")
            .and_then(|item| item.post.as_mut())
            .and_then(|post| post.responses.responses.get_mut("201"));
        let Some(RefOr::T(response)) = response else {
            return;
        };
        let id = ("id", "$response.body#/cartId");
        // Reads follow the write's position, so the cart they look for is there.
        let position = (
            "header.Shopcore-Min-Position",
            "$response.header.Shopcore-Position",
        );
        let token = ("token", "$response.body#/sessionToken");
        type Target<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let targets: [Target; 7] = [
            ("GetCart", "get_cart", &[id, position]),
            (
                "GetCartBySession",
                "get_cart_by_session",
                &[token, position],
            ),
            ("AddCartItem", "add_cart_item", &[id]),
            ("ApplyCoupon", "apply_coupon", &[id]),
            ("RemoveCoupon", "remove_coupon", &[id]),
            ("CheckoutCart", "checkout_cart", &[id]),
            ("MergeCart", "merge_cart", &[id]),
        ];
        for (name, operation, parameters) in targets {
            let mut link = LinkBuilder::new().operation_id(operation);
            for (parameter, value) in parameters {
                link = link.parameter(*parameter, *value);
            }
            response
                .links
                .insert(name.to_owned(), RefOr::T(link.build()));
        }
    }
}
