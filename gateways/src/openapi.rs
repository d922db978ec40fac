//! The OpenAPI document, generated from the handlers. Served at `/openapi.json` and written to
//! `docs/api/openapi.json` by `shopcore-gateway openapi`. The pricing routes' limits and links
//! are in [`pricing`], the cart routes' in [`cart`].

mod cart;
mod pricing;

use cart::{CartLimits, CartLinks};
use pricing::{PricingLimits, PricingLinks};

use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};

use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi};

use crate::problem::{PriceChangeView, Problem};
use crate::routes::{
    addresses, cart_answers, cart_writes, carts, catalog, catalog_writes, customers, media,
    price_books, price_rules, pricing as pricing_routes, promotions,
};
use shopcore_projections::catalog::read_model::{
    AttributeView, MediaView, MoneyView, ProductView, VariantView,
};
use shopcore_projections::catalog::taxonomy::CategoryRow;
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
        catalog::get_product,
        catalog::list_products,
        catalog::list_categories,
        catalog_writes::create_product,
        catalog_writes::update_product,
        catalog_writes::assign_categories,
        catalog_writes::add_variant,
        catalog_writes::update_variant,
        catalog_writes::remove_variant,
        catalog_writes::publish_product,
        catalog_writes::unpublish_product,
        catalog_writes::discontinue_product,
        catalog_writes::create_category,
        catalog_writes::update_category,
        catalog_writes::move_category,
        catalog_writes::remove_category,
        media::upload_media,
        media::get_media,
        media::remove_media,
        pricing_routes::get_price,
        pricing_routes::simulate,
        price_rules::upsert_price_rule,
        price_rules::remove_price_rule,
        price_rules::get_price_rule,
        price_rules::list_price_rules,
        price_books::get_price_book,
        price_books::list_price_books,
        promotions::create_promotion,
        promotions::activate_promotion,
        promotions::deactivate_promotion,
        promotions::schedule_promotion_activation,
        promotions::get_promotion,
        promotions::list_promotions,
        cart_writes::create_cart,
        carts::get_cart,
        carts::get_cart_by_session,
        cart_writes::add_cart_item,
        cart_writes::change_cart_item,
        cart_writes::remove_cart_item,
        cart_writes::apply_coupon,
        cart_writes::remove_coupon,
        cart_writes::checkout_cart,
        cart_writes::merge_cart,
    ),
    components(schemas(
        CustomerView,
        AddressView,
        Problem,
        customers::CreateCustomer,
        customers::UpdateCustomer,
        customers::AssignSegments,
        addresses::AddressBody,
        ProductView,
        VariantView,
        MediaView,
        AttributeView,
        MoneyView,
        CategoryRow,
        catalog::ProductPageView,
        catalog::CategoryTreeView,
        catalog_writes::CreateProduct,
        catalog_writes::UpdateProduct,
        catalog_writes::AssignCategories,
        catalog_writes::AddVariant,
        catalog_writes::UpdateVariant,
        catalog_writes::CreateCategory,
        catalog_writes::UpdateCategory,
        catalog_writes::MoveCategory,
        catalog_writes::TaxonomyView,
        media::MediaUpload,
        pricing_routes::PriceAnswerView,
        pricing_routes::BasePriceAnswerView,
        pricing_routes::RuleVerdictView,
        pricing_routes::PriceContextBody,
        pricing_routes::SimulateBody,
        price_rules::PriceRuleBody,
        price_rules::RuleConditionsBody,
        price_rules::RemovedPriceRuleView,
        price_rules::PriceRulePageView,
        price_books::PriceBookPageView,
        price_books::PriceBookDetailView,
        promotions::CreatePromotion,
        promotions::PromotionPageView,
        shopcore_projections::pricing::read_model::PriceRuleView,
        shopcore_projections::pricing::read_model::RuleTargetsView,
        shopcore_projections::pricing::read_model::RuleConditionsView,
        shopcore_projections::pricing::read_model::RuleActionView,
        shopcore_projections::pricing::read_model::DiscountView,
        shopcore_projections::pricing::read_model::PromotionView,
        shopcore_projections::pricing::read_model::PriceBookView,
        shopcore_projections::pricing::read_model::BasePriceView,
        PriceChangeView,
        cart_writes::CreateCartBody,
        cart_writes::AddItemBody,
        cart_writes::ChangeQuantityBody,
        cart_writes::ApplyCouponBody,
        cart_writes::CheckoutBody,
        cart_answers::CreatedCartView,
        cart_answers::MergeResultView,
        shopcore_projections::cart::CartView,
        shopcore_projections::cart::CartLineView,
        shopcore_projections::cart::CartStatusView,
        shopcore_projections::cart::CouponView,
        shopcore_projections::cart::CouponKind,
    )),
    tags(
        (name = "customers", description = "Customer profiles and segments"),
        (name = "products", description = "Products, their variants and the category tree"),
        (name = "pricing", description = "Prices (with the rules that made them), scenario tests with draft rules, price rules and price books"),
        (name = "promotions", description = "Promotion campaigns and their coupon codes"),
        (name = "carts", description = "Carts priced by the pricing service: items, coupons, checkout, the sign-in merge; anonymous carts are reached with their session token"),
    ),
    modifiers(&BearerTokens, &InputLimits, &CatalogLimits, &MediaUploads, &Links, &PricingLimits, &PricingLinks, &CartLimits, &CartLinks)
)]
pub struct ApiDoc;

/// The limits the domain enforces, stated in the document from the same constants
/// (`shopcore_domain::customer::limits`), so the contract and the server cannot drift apart.
struct InputLimits;

/// The characters `shopcore_domain::text` refuses, as the inside of a regular-expression
/// class, computed from [`shopcore_domain::text::is_invisible`] itself so that the document
/// and the server cannot disagree. BMP characters are written as `\uXXXX` escapes, the few
/// beyond it (tags, musical format characters) as themselves.
fn invisible_class() -> String {
    invisible_class_except(&[])
}

/// [`invisible_class`] without the characters in `allowed` (a description's line breaks).
fn invisible_class_except(allowed: &[char]) -> String {
    use std::fmt::Write as _;
    let escape = |c: char| {
        if u32::from(c) <= 0xFFFF {
            format!("\\u{:04X}", u32::from(c))
        } else {
            c.to_string()
        }
    };
    let mut class = String::new();
    let mut range: Option<(char, char)> = None;
    let flush = |class: &mut String, (first, last): (char, char)| {
        let _ = if first == last {
            write!(class, "{}", escape(first))
        } else {
            write!(class, "{}-{}", escape(first), escape(last))
        };
    };
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        if shopcore_domain::text::is_invisible(c) && !allowed.contains(&c) {
            range = match range {
                Some((first, last)) if u32::from(last) + 1 == u32::from(c) => Some((first, c)),
                Some(done) => {
                    flush(&mut class, done);
                    Some((c, c))
                }
                None => Some((c, c)),
            };
        }
    }
    if let Some(done) = range {
        flush(&mut class, done);
    }
    class
}

/// Every operation of the document.
fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    openapi.paths.paths.values_mut().flat_map(|path| {
        [
            &mut path.get,
            &mut path.put,
            &mut path.post,
            &mut path.delete,
            &mut path.patch,
        ]
        .into_iter()
        .flatten()
    })
}

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
    let required = object.required.iter().any(|r| r == property);
    if let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(property) {
        field.max_length = Some(max_length);
        field.min_length = Some(usize::from(required));
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
        // The phone as typed: '+', the country code (not 0) and 7 to 15 digits in all, with
        // optional separators; empty (on update: remove it).
        let phone = r"^\+[1-9]([ ().-]*[0-9]){6,14}[ ().-]*$|^$";
        // Free text: no characters that do not show (controls, the common format characters,
        // private use), and, where required, at least one that is not blank.
        let invisible = invisible_class();
        let optional_text = format!("^[^{invisible}]*$");
        let required_text = format!("^[^{invisible}]*[^\\s{invisible}][^{invisible}]*$");
        // What the domain checks of an e-mail: one '@', a local part, a dotted domain, no
        // whitespace, controls or <>,; (and no invisible characters, see the README).
        let email = format!(
            "^[^@\\s<>,;{invisible}]+@[^@\\s<>,;.{invisible}]+(\\.[^@\\s<>,;.{invisible}]+)+$"
        );
        for schema in ["CreateCustomer", "UpdateCustomer"] {
            limit_string(schemas, schema, "email", MAX_EMAIL_CHARS, Some(&email));
            limit_string(
                schemas,
                schema,
                "firstName",
                MAX_NAME_CHARS,
                Some(&required_text),
            );
            limit_string(
                schemas,
                schema,
                "lastName",
                MAX_NAME_CHARS,
                Some(&required_text),
            );
            limit_string(schemas, schema, "phone", MAX_PHONE_CHARS, Some(phone));
        }
        for property in ["line1", "city"] {
            let pattern = Some(required_text.as_str());
            limit_string(
                schemas,
                "AddressBody",
                property,
                MAX_ADDRESS_FIELD_CHARS,
                pattern,
            );
        }
        for property in ["label", "line2", "region", "postalCode"] {
            let pattern = Some(optional_text.as_str());
            limit_string(
                schemas,
                "AddressBody",
                property,
                MAX_ADDRESS_FIELD_CHARS,
                pattern,
            );
        }
        // An update names at least one field, each with a string: `null` would name nothing
        // (absent and null mean "leave it").
        if let Some(RefOr::T(Schema::Object(update))) = schemas.get_mut("UpdateCustomer") {
            update.min_properties = Some(1);
            for property in update.properties.values_mut() {
                if let RefOr::T(Schema::Object(field)) = property {
                    field.schema_type = utoipa::openapi::schema::SchemaType::new(Type::String);
                }
            }
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
        // Catalog queries: the same rules as the domain's values.
        let name_start = format!("^[^\\s{invisible}]([^{invisible}]*[^\\s{invisible}])?$");
        let string = |min: usize, max: usize, pattern: &str| {
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(min))
                    .max_length(Some(max))
                    .pattern(Some(pattern))
                    .build(),
            ))
        };
        for operation in operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in != utoipa::openapi::path::ParameterIn::Query {
                    continue;
                }
                use shopcore_domain::catalog::values::{
                    MAX_ATTRIBUTE_TEXT_CHARS, MAX_CATEGORY_CHARS, MAX_NAME_CHARS, MAX_SKU_CHARS,
                };
                parameter.schema = Some(match parameter.name.as_str() {
                    "category" => string(1, MAX_CATEGORY_CHARS, "^[a-z0-9]+(-[a-z0-9]+)*$"),
                    "sku" => string(1, MAX_SKU_CHARS, "^[A-Za-z0-9._-]+$"),
                    "q" => string(1, MAX_NAME_CHARS, &name_start),
                    "attribute" => string(
                        3,
                        64 + 1 + MAX_ATTRIBUTE_TEXT_CHARS,
                        &format!(
                            "^[a-z][a-z0-9_]{{0,63}}:[^\\s{invisible}]([^{invisible}]{{0,{}}}[^\\s{invisible}])?$",
                            MAX_ATTRIBUTE_TEXT_CHARS - 2
                        ),
                    ),
                    "cursor" => RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                utoipa::openapi::KnownFormat::Uuid,
                            )))
                            .build(),
                    )),
                    "status" => RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["draft", "published", "discontinued"]))
                            .build(),
                    )),
                    "limit" => RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .maximum(Some(crate::routes::catalog::MAX_PAGE as i32))
                            .build(),
                    )),
                    _ => continue,
                });
            }
        }
        // Headers: the idempotency key's length, the position token's form.
        for operation in operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                let (max_length, pattern) = match parameter.name.as_str() {
                    "Idempotency-Key" => (200, r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$"),
                    "Shopcore-Min-Position" => (37, r"^[0-9]{1,18}-[0-9]{1,18}$"),
                    "If-Match" => (23, r#"^(W/)?"[0-9]{1,18}"$|^[0-9]{1,18}$"#),
                    _ => continue,
                };
                // A header is a string or absent, never JSON null.
                parameter.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(max_length))
                        .pattern(Some(pattern))
                        .build(),
                )));
            }
        }
    }
}

/// Links from the answers that create something to the operations that take its id, so
/// clients (and stateful contract tests) can follow them.
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let link = |operation: &str, parameters: &[(&str, &str)]| {
            let mut link = LinkBuilder::new().operation_id(operation);
            for (name, value) in parameters {
                link = link.parameter(*name, *value);
            }
            link.build()
        };
        let customer = [("id", "$response.body#/id")];
        let address = [
            ("id", "$response.body#/id"),
            ("addressId", "$response.body#/addresses/0/id"),
        ];
        let add = |path: &str,
                   method: &str,
                   status: &str,
                   links: Vec<(&str, Link)>,
                   openapi: &mut utoipa::openapi::OpenApi| {
            let Some(item) = openapi.paths.paths.get_mut(path) else {
                return;
            };
            let operation = match method {
                "post" => item.post.as_mut(),
                _ => None,
            };
            let Some(RefOr::T(response)) =
                operation.and_then(|o| o.responses.responses.get_mut(status))
            else {
                return;
            };
            for (name, link) in links {
                response.links.insert(name.to_owned(), RefOr::T(link));
            }
        };
        add(
            "/customers",
            "post",
            "201",
            vec![
                ("GetCustomer", link("get_customer", &customer)),
                ("UpdateCustomer", link("update_customer", &customer)),
                ("AssignSegments", link("assign_segments", &customer)),
                ("AddAddress", link("add_address", &customer)),
            ],
            openapi,
        );
        add(
            "/customers/{id}/addresses",
            "post",
            "201",
            vec![
                ("UpdateAddress", link("update_address", &address)),
                ("RemoveAddress", link("remove_address", &address)),
            ],
            openapi,
        );
        let product = [("id", "$response.body#/id")];
        add(
            "/products",
            "post",
            "201",
            vec![
                ("GetProduct", link("get_product", &product)),
                ("UpdateProduct", link("update_product", &product)),
                ("AssignCategories", link("assign_categories", &product)),
                ("AddVariant", link("add_variant", &product)),
                ("PublishProduct", link("publish_product", &product)),
                ("DiscontinueProduct", link("discontinue_product", &product)),
            ],
            openapi,
        );
        let variant = [
            ("id", "$response.body#/id"),
            ("variantId", "$response.body#/variants/0/id"),
        ];
        add(
            "/products/{id}/variants",
            "post",
            "201",
            vec![
                ("UpdateVariant", link("update_variant", &variant)),
                ("RemoveVariant", link("remove_variant", &variant)),
                ("PublishProduct", link("publish_product", &product)),
            ],
            openapi,
        );
        let category = [("key", "$request.body#/key")];
        add(
            "/categories",
            "post",
            "201",
            vec![
                ("UpdateCategory", link("update_category", &category)),
                ("MoveCategory", link("move_category", &category)),
                ("RemoveCategory", link("remove_category", &category)),
            ],
            openapi,
        );
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
        for operation in operations(openapi) {
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

/// The document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        // utoipa 5.5 writes a link's operationId as "operation_id", which OpenAPI does not
        // know; the key appears nowhere else in the document.
        .map(|json| json.replace("\"operation_id\":", "\"operationId\":"))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The limits of the catalog's bodies, from the domain's constants and rules
/// (`shopcore_domain::catalog::values`, `::taxonomy`).
struct CatalogLimits;

/// A string schema.
fn text_schema(min: usize, max: usize, pattern: &str) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(min))
            .max_length(Some(max))
            .pattern(Some(pattern))
            .build(),
    )
}

/// Replaces a property of a schema, keeping its description.
fn set_property(
    schemas: &mut BTreeMap<String, RefOr<Schema>>,
    schema: &str,
    property: &str,
    mut replacement: Schema,
) {
    let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(old))) = object.properties.get(property) {
        if let Schema::Object(new) = &mut replacement {
            new.description.clone_from(&old.description);
        }
    }
    if object.properties.contains_key(property) {
        object
            .properties
            .insert(property.to_owned(), RefOr::T(replacement));
    }
}

impl Modify for CatalogLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use shopcore_domain::catalog::taxonomy::{MAX_CATEGORY_NAME_CHARS, MAX_POSITION};
        use shopcore_domain::catalog::values::*;
        let invisible = invisible_class();
        let optional_text = format!("^[^{invisible}]*$");
        let required_text = format!("^[^{invisible}]*[^\\s{invisible}][^{invisible}]*$");
        let multiline = format!("^[^{}]*$", invisible_class_except(&['\n', '\t']));
        let key = "^[a-z0-9]+(-[a-z0-9]+)*$";
        let sku = "^[A-Za-z0-9._-]+$";
        let categories = || {
            Schema::Array(
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(ArrayItems::RefOrSchema(Box::new(RefOr::T(text_schema(
                        1,
                        MAX_CATEGORY_CHARS,
                        key,
                    )))))
                    .max_items(Some(MAX_CATEGORIES))
                    .build(),
            )
        };
        let attributes = || {
            let mut object = ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(Ref::from_schema_name("AttributeView")))
                .max_properties(Some(MAX_ATTRIBUTES))
                .build();
            object.property_names = Some(Box::new(text_schema(1, 64, "^[a-z][a-z0-9_]*$")));
            Schema::Object(object)
        };
        let position = || {
            Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(MAX_POSITION))
                    .build(),
            )
        };
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = &mut components.schemas;
        for body in ["CreateProduct", "UpdateProduct"] {
            let name = text_schema(1, MAX_NAME_CHARS, &required_text);
            set_property(schemas, body, "name", name);
            let description = text_schema(0, MAX_DESCRIPTION_CHARS, &multiline);
            set_property(schemas, body, "description", description);
            let brand = text_schema(0, MAX_BRAND_CHARS, &optional_text);
            set_property(schemas, body, "brand", brand);
            set_property(schemas, body, "attributes", attributes());
        }
        set_property(schemas, "CreateProduct", "categories", categories());
        set_property(schemas, "AssignCategories", "categories", categories());
        for body in ["AddVariant", "UpdateVariant"] {
            set_property(schemas, body, "sku", text_schema(1, MAX_SKU_CHARS, sku));
            set_property(schemas, body, "attributes", attributes());
        }
        set_property(
            schemas,
            "CreateCategory",
            "key",
            text_schema(1, MAX_CATEGORY_CHARS, key),
        );
        for body in ["CreateCategory", "UpdateCategory"] {
            let name = text_schema(1, MAX_CATEGORY_NAME_CHARS, &required_text);
            set_property(schemas, body, "name", name);
            set_property(schemas, body, "position", position());
        }
        for body in ["CreateCategory", "MoveCategory"] {
            set_property(
                schemas,
                body,
                "parent",
                text_schema(1, MAX_CATEGORY_CHARS, key),
            );
        }
        set_property(schemas, "MoveCategory", "position", position());
        // An update names at least one field (null names none).
        for body in ["UpdateProduct", "UpdateVariant", "UpdateCategory"] {
            if let Some(RefOr::T(Schema::Object(update))) = schemas.get_mut(body) {
                update.min_properties = Some(1);
            }
        }
        // Attribute values: text and list items as the domain checks them, money in a
        // currency it knows.
        if let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get_mut("AttributeView") {
            for variant in &mut one_of.items {
                let RefOr::T(Schema::Object(variant)) = variant else {
                    continue;
                };
                let kind = variant
                    .properties
                    .get("type")
                    .and_then(|t| match t {
                        RefOr::T(Schema::Object(t)) => t.enum_values.clone(),
                        _ => None,
                    })
                    .and_then(|values| values.first().and_then(|v| v.as_str().map(str::to_owned)));
                let value = match kind.as_deref() {
                    Some("text") => text_schema(0, MAX_ATTRIBUTE_TEXT_CHARS, &optional_text),
                    Some("textList") => Schema::Array(
                        utoipa::openapi::schema::ArrayBuilder::new()
                            .items(ArrayItems::RefOrSchema(Box::new(RefOr::T(text_schema(
                                1,
                                MAX_ATTRIBUTE_TEXT_CHARS,
                                &required_text,
                            )))))
                            .max_items(Some(MAX_LIST_ITEMS))
                            .build(),
                    ),
                    _ => continue,
                };
                variant
                    .properties
                    .insert("value".to_owned(), RefOr::T(value));
            }
        }
        let currencies: Vec<&str> = shopcore_domain::money::currency::KNOWN
            .iter()
            .map(|(code, _)| *code)
            .collect();
        set_property(
            schemas,
            "MoneyView",
            "currency",
            Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(currencies))
                    .build(),
            ),
        );
        // Category keys in paths.
        for operation in operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.name == "key"
                    && parameter.parameter_in == utoipa::openapi::path::ParameterIn::Path
                {
                    parameter.schema = Some(RefOr::T(text_schema(1, MAX_CATEGORY_CHARS, key)));
                }
            }
        }
    }
}

/// The upload form: the `file` part's media types (as the part's `Content-Type`, which a
/// schema cannot say) and the alternative text's limit, from `shopcore_domain::catalog::media`.
struct MediaUploads;

impl Modify for MediaUploads {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use shopcore_domain::catalog::media::{
            ACCEPTED_MEDIA_TYPES, MAX_ALT_TEXT_CHARS, MAX_MEDIA_BYTES,
        };
        let form = openapi
            .paths
            .paths
            .get_mut("/products/{id}/media")
            .and_then(|item| item.post.as_mut())
            .and_then(|post| post.request_body.as_mut())
            .and_then(|body| body.content.get_mut("multipart/form-data"));
        if let Some(form) = form {
            let encoding = utoipa::openapi::encoding::EncodingBuilder::new()
                .content_type(Some(ACCEPTED_MEDIA_TYPES.join(", ")))
                .build();
            form.encoding.insert("file".to_owned(), encoding);
        }
        if let Some(components) = openapi.components.as_mut() {
            // The form has exactly these parts; another is refused.
            if let Some(RefOr::T(Schema::Object(form))) = components.schemas.get_mut("MediaUpload")
            {
                form.additional_properties = Some(Box::new(
                    utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                ));
            }
            let file = ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Binary,
                )))
                .min_length(Some(1))
                .max_length(Some(MAX_MEDIA_BYTES as usize))
                .build();
            set_property(
                &mut components.schemas,
                "MediaUpload",
                "file",
                Schema::Object(file),
            );
            let pattern = format!("^[^{}]*$", invisible_class());
            set_property(
                &mut components.schemas,
                "MediaUpload",
                "altText",
                text_schema(0, MAX_ALT_TEXT_CHARS, &pattern),
            );
        }
    }
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
