//! The limits of the pricing routes in the OpenAPI document, from the same constants and
//! rules the gateway and the domain check (`routes::pricing`, `routes::price_rules`,
//! `routes::promotions`, `shopcore_domain::money`), and the links from the answers that
//! create a rule or a promotion to the operations that take its id.

use std::collections::BTreeMap;

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema, SchemaFormat};
use utoipa::Modify;

use super::{invisible_class, set_property, text_schema};
use crate::routes::price_rules::{MAX_CONDITION_VALUES, MAX_RULE_NAME_CHARS, MAX_TARGETS};
use crate::routes::pricing::{
    MAX_DRAFT_RULES, MAX_LABEL_CHARS, MAX_QUANTITY, MAX_SEGMENTS, MAX_SEGMENT_CHARS,
};
use crate::routes::promotions::{MAX_COUPON_CODES, MAX_PROMOTION_NAME_CHARS};

/// A SKU as the catalog writes them.
const SKU: &str = "^[A-Za-z0-9._-]+$";
/// A coupon code as typed (stored upper case).
const COUPON_CODE: &str = "^[A-Za-z0-9_-]{3,32}$";
/// A percentage above 0 and at most 100 with at most two decimals (leading zeros allowed, as
/// `Percent::parse` reads them).
const PERCENT: &str = r"^0*([1-9][0-9]?(\.[0-9]{1,2})?|100(\.00?)?)$|^0+\.(0[1-9]|[1-9][0-9]?)$";
/// The cursor of a book's prices.
const PRICE_CURSOR: &str = "^[A-Za-z0-9._-]{1,64}/[A-Z]{3}$";

pub(super) struct PricingLimits;

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

fn instant() -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .build(),
    )
}

fn integer(min: i64, max: i64) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min as f64))
            .maximum(Some(max as f64))
            .build(),
    )
}

fn list(item: Schema, max_items: usize) -> Schema {
    Schema::Array(
        ArrayBuilder::new()
            .items(ArrayItems::RefOrSchema(Box::new(RefOr::T(item))))
            .max_items(Some(max_items))
            .build(),
    )
}

/// Sets `property` on every variant of a `oneOf` schema that has it.
fn set_variant_property(
    schemas: &mut BTreeMap<String, RefOr<Schema>>,
    schema: &str,
    property: &str,
    replacement: &Schema,
) {
    let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get_mut(schema) else {
        return;
    };
    for variant in &mut one_of.items {
        if let RefOr::T(Schema::Object(object)) = variant {
            if object.properties.contains_key(property) {
                object
                    .properties
                    .insert(property.to_owned(), RefOr::T(replacement.clone()));
            }
        }
    }
}

/// Drops `null` from every property of a body schema: the server refuses `null` (absent is
/// how to leave a field out), and a variant of a tagged body refuses unknown properties.
fn not_null(schemas: &mut BTreeMap<String, RefOr<Schema>>, schema: &str) {
    let without_null = |types: &SchemaType| match types {
        SchemaType::Array(types) => {
            let kept: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            match kept.as_slice() {
                [one] => SchemaType::Type(one.clone()),
                _ => SchemaType::Array(kept),
            }
        }
        other => other.clone(),
    };
    let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else {
        return;
    };
    for property in object.properties.values_mut() {
        match property {
            RefOr::T(Schema::Object(field)) => field.schema_type = without_null(&field.schema_type),
            RefOr::T(Schema::Array(field)) => field.schema_type = without_null(&field.schema_type),
            RefOr::T(Schema::OneOf(one_of)) => {
                one_of.items.retain(|item| {
                    !matches!(item, RefOr::T(Schema::Object(o))
                        if o.schema_type == SchemaType::Type(Type::Null))
                });
                if one_of.items.len() == 1 {
                    *property = one_of.items.remove(0);
                }
            }
            _ => {}
        }
    }
}

/// `additionalProperties: false` on every variant of a tagged (`oneOf`) body schema.
fn closed_variants(schemas: &mut BTreeMap<String, RefOr<Schema>>, schema: &str) {
    let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get_mut(schema) else {
        return;
    };
    for variant in &mut one_of.items {
        if let RefOr::T(Schema::Object(object)) = variant {
            object.additional_properties = Some(Box::new(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        }
    }
}

impl Modify for PricingLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let invisible = invisible_class();
        let required_text = format!("^[^{invisible}]*[^\\s{invisible}][^{invisible}]*$");
        let label = || text_schema(1, MAX_LABEL_CHARS, &required_text);
        let segment = || text_schema(1, MAX_SEGMENT_CHARS, &required_text);
        let sku = || text_schema(1, shopcore_domain::catalog::values::MAX_SKU_CHARS, SKU);
        // Parameters of the pricing operations (after the catalog's, which name `sku`,
        // `category`, `cursor` alike but mean other things).
        for (path, item) in openapi.paths.paths.iter_mut() {
            let pricing = path.starts_with("/pricing")
                || path.starts_with("/promotions")
                || path.starts_with("/price-books");
            if !pricing {
                continue;
            }
            for operation in [&mut item.get, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                for parameter in operation.parameters.iter_mut().flatten() {
                    let schema = match (parameter.parameter_in.clone(), parameter.name.as_str()) {
                        (ParameterIn::Path, "sku") => sku(),
                        (ParameterIn::Query, "currency") => currency(),
                        (ParameterIn::Query, "customerSegment") => list(segment(), MAX_SEGMENTS),
                        (ParameterIn::Query, "channel" | "region" | "category") => label(),
                        (ParameterIn::Query, "quantity") => integer(1, i64::from(MAX_QUANTITY)),
                        (ParameterIn::Query, "at") => instant(),
                        (ParameterIn::Query, "code") => text_schema(3, 32, COUPON_CODE),
                        (ParameterIn::Query, "cursor") if path == "/price-books/{id}" => {
                            text_schema(5, 68, PRICE_CURSOR)
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
        // Rules: the body of an upsert and of a draft.
        let name = text_schema(1, MAX_RULE_NAME_CHARS, &required_text);
        set_property(schemas, "PriceRuleBody", "name", name);
        set_property(schemas, "RuleTargetsView", "skus", list(sku(), MAX_TARGETS));
        let categories = list(label(), MAX_TARGETS);
        set_property(schemas, "RuleTargetsView", "categories", categories);
        for property in ["customerSegments", "channels", "regions"] {
            let values = list(label(), MAX_CONDITION_VALUES);
            set_property(schemas, "RuleConditionsBody", property, values);
        }
        set_property(schemas, "RuleConditionsBody", "currency", currency());
        for property in ["validFrom", "validUntil"] {
            set_property(schemas, "RuleConditionsBody", property, instant());
        }
        let percent = Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(PERCENT))
                .build(),
        );
        set_variant_property(schemas, "RuleActionView", "percent", &percent);
        set_variant_property(schemas, "DiscountView", "percent", &percent);
        // A price context.
        set_property(schemas, "PriceContextBody", "currency", currency());
        let segments = list(segment(), MAX_SEGMENTS);
        set_property(schemas, "PriceContextBody", "customerSegments", segments);
        for property in ["channel", "region"] {
            set_property(schemas, "PriceContextBody", property, label());
        }
        let quantity = integer(1, i64::from(MAX_QUANTITY));
        set_property(schemas, "PriceContextBody", "quantity", quantity);
        set_property(schemas, "PriceContextBody", "at", instant());
        if let Some(RefOr::T(Schema::Object(body))) = schemas.get_mut("SimulateBody") {
            if let Some(RefOr::T(Schema::Array(drafts))) = body.properties.get_mut("draftRules") {
                drafts.max_items = Some(MAX_DRAFT_RULES);
            }
        }
        // Promotions.
        let name = text_schema(1, MAX_PROMOTION_NAME_CHARS, &required_text);
        set_property(schemas, "CreatePromotion", "name", name);
        for property in ["validFrom", "validUntil"] {
            set_property(schemas, "CreatePromotion", property, instant());
        }
        let codes = list(text_schema(3, 32, COUPON_CODE), MAX_COUPON_CODES);
        set_property(schemas, "CreatePromotion", "couponCodes", codes);
        for body in [
            "PriceRuleBody",
            "RuleConditionsBody",
            "PriceContextBody",
            "SimulateBody",
            "CreatePromotion",
        ] {
            not_null(schemas, body);
        }
        closed_variants(schemas, "RuleActionView");
        closed_variants(schemas, "DiscountView");
    }
}

/// Links from `POST /pricing/rules` and `POST /promotions` to the operations on what they
/// created.
pub(super) struct PricingLinks;

impl Modify for PricingLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let id = [("id", "$response.body#/id")];
        // (the creating operation, the links of its 201: name and operation id)
        type Links<'a> = (&'a str, &'a [(&'a str, &'a str)]);
        let links: [Links; 2] = [
            (
                "/pricing/rules",
                &[
                    ("GetPriceRule", "get_price_rule"),
                    ("RemovePriceRule", "remove_price_rule"),
                ],
            ),
            (
                "/promotions",
                &[
                    ("GetPromotion", "get_promotion"),
                    ("ActivatePromotion", "activate_promotion"),
                    ("DeactivatePromotion", "deactivate_promotion"),
                    (
                        "SchedulePromotionActivation",
                        "schedule_promotion_activation",
                    ),
                ],
            ),
        ];
        for (path, targets) in links {
            let response = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .and_then(|post| post.responses.responses.get_mut("201"));
            let Some(RefOr::T(response)) = response else {
                continue;
            };
            for (name, operation) in targets {
                let mut link = LinkBuilder::new().operation_id(*operation);
                for (parameter, value) in id {
                    link = link.parameter(parameter, value);
                }
                response
                    .links
                    .insert((*name).to_owned(), RefOr::T(link.build()));
            }
        }
    }
}
