//! `ProductCommands`: the Product aggregate over gRPC. Writes need a platform token with
//! `manage_products`; SKUs are reserved in the append transaction (see [`crate::claims`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cqrs_es::Aggregate as _;
use shopcore_auth::scopes::MANAGE_PRODUCTS;
use shopcore_domain::catalog::{
    media, AttributeValue, Attributes, Media, MediaRef, MediaStatus, Product, ProductChanges,
    ProductCommand, ProductEvent, ProductServices, ProductStatus, SkuCatalog, EVENT_SCHEMA_VERSION,
};
use shopcore_domain::money::{Currency, Money};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::{EventStore, GlobalLog, LogPosition};
use shopcore_proto::catalog::v1 as pb;
use shopcore_proto::catalog::v1::product_commands_server::ProductCommands;

use super::{
    command_requests, command_result, denied, execute, invalid, new_id, parse_uuid, principal,
};
use crate::claims::PRODUCT_SKU;
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Snapshots of products: every 100 events, valid for this state layout and event schema.
pub fn product_snapshots() -> SnapshotPolicy {
    // State layout 2: media carry their processing status.
    SnapshotPolicy::new(Product::TYPE, 100, 2, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of products over `store`.
pub fn product_pipeline(store: EventStore) -> CommandPipeline<Product> {
    let services = ProductServices {
        skus: Arc::new(ClaimedSkus(store.clone())),
        categories: Arc::new(super::taxonomy::TaxonomyCategories(store.clone())),
    };
    CommandPipeline::new(store, services, product_snapshots())
}

/// SKU ownership from the unique-claims table of the event store: a clear rejection before
/// the append, which reserves the SKU for good (two racing variants cannot both take one).
struct ClaimedSkus(EventStore);

#[async_trait]
impl SkuCatalog for ClaimedSkus {
    async fn sku_owner(&self, sku: &str) -> Result<Option<Uuid>, String> {
        let owner = self
            .0
            .claim_owner(PRODUCT_SKU, sku)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "SKU lookup failed");
                "the SKU directory did not answer".to_owned()
            })?;
        Ok(owner.and_then(|id| Uuid::parse_str(&id).ok()))
    }
}

command_requests!(
    pb::CreateProductRequest,
    pb::UpdateProductRequest,
    pb::AddVariantRequest,
    pb::UpdateVariantRequest,
    pb::RemoveVariantRequest,
    pb::AssignCategoriesRequest,
    pb::ProductLifecycleRequest,
    pb::AttachMediaRequest,
    pb::RemoveMediaRequest,
);

/// The gRPC service of the Product aggregate.
pub struct ProductService {
    pipeline: CommandPipeline<Product>,
    log: GlobalLog,
}

impl ProductService {
    pub fn new(store: EventStore) -> Self {
        Self {
            log: GlobalLog::new(store.pool().clone()),
            pipeline: product_pipeline(store),
        }
    }

    /// Checks the caller, builds the command for the product and runs it.
    async fn run<M: super::CommandRequest>(
        &self,
        command_type: &'static str,
        request: Request<M>,
        product_id: impl FnOnce(&M) -> Result<Uuid, Status>,
        command: impl FnOnce(M, Uuid) -> Result<ProductCommand, Status>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        caller.platform(MANAGE_PRODUCTS).map_err(denied)?;
        let (message, options, fingerprint) = message.split();
        let id = product_id(&message)?;
        let command = command(message, id)?;
        let outcome = execute(
            &self.pipeline,
            command_type,
            (caller, &metadata),
            (options, fingerprint),
            &id.to_string(),
            command,
        )
        .await?;
        let id = Uuid::parse_str(&outcome.aggregate_id).unwrap_or(id);
        Ok(Response::new(product_result(id, &outcome)))
    }

    /// The event a command wrote, at its result's position: what a replayed AddVariant or
    /// AttachMedia added.
    async fn written_event(&self, reply: &pb::ProductResult) -> Option<ProductEvent> {
        let position: LogPosition = reply.result.as_ref()?.log_position.parse().ok()?;
        let event = self.log.event_at(position).await.ok()??;
        serde_json::from_value(event.payload).ok()
    }

    /// The id an entity-adding command assigned: `assigned` when it ran now, else read from the
    /// first run's event by `id_of`.
    async fn added_id(
        &self,
        reply: &pb::ProductResult,
        assigned: Uuid,
        id_of: impl FnOnce(ProductEvent) -> Option<Uuid>,
    ) -> String {
        let replayed = reply.result.as_ref().is_some_and(|r| r.replayed);
        if !replayed {
            return assigned.to_string();
        }
        self.written_event(reply)
            .await
            .and_then(id_of)
            .map(|id| id.to_string())
            .unwrap_or_default()
    }
}

fn existing(product_id: &str) -> Result<Uuid, Status> {
    parse_uuid(product_id, "productId")
}

/// The reply: what the command did and the product after it.
fn product_result(id: Uuid, outcome: &CommandOutcome<Product>) -> pb::ProductResult {
    let state = &outcome.state;
    pb::ProductResult {
        result: Some(command_result(id.to_string(), outcome)),
        product: Some(pb::Product {
            product_id: id.to_string(),
            name: state.name.clone(),
            description: state.description.clone(),
            brand: state.brand.clone(),
            attributes: attributes_to_pb(&state.attributes),
            variants: state
                .variants
                .values()
                .map(|variant| pb::Variant {
                    variant_id: variant.variant_id.to_string(),
                    sku: variant.sku.clone(),
                    attributes: attributes_to_pb(&variant.attributes),
                })
                .collect(),
            categories: state.categories.clone(),
            media: state.media.iter().map(media_to_pb).collect(),
            status: match state.status {
                ProductStatus::Draft => "draft",
                ProductStatus::Published => "published",
                ProductStatus::Discontinued => "discontinued",
            }
            .to_owned(),
        }),
        variant_id: String::new(),
        media_id: String::new(),
    }
}

fn media_to_pb(media: &Media) -> pb::Media {
    pb::Media {
        media_id: media.media_id.to_string(),
        uri: media.uri.clone(),
        content_type: media.content_type.clone(),
        alt_text: media.alt_text.clone(),
        status: match media.status {
            MediaStatus::Pending => "pending",
            MediaStatus::Processed => "processed",
            MediaStatus::Rejected => "rejected",
        }
        .to_owned(),
        checksum_sha256: media.checksum_sha256.clone(),
        size_bytes: media.size_bytes,
        width: media.width,
        height: media.height,
        thumbnail_uri: media.thumbnail_uri.clone(),
        rejection_reason: media.rejection_reason.clone(),
    }
}

fn attributes_to_pb(
    attributes: &Attributes,
) -> std::collections::BTreeMap<String, pb::AttributeValue> {
    attributes
        .iter()
        .map(|(key, value)| {
            let value = match value {
                AttributeValue::Text(text) => pb::attribute_value::Value::Text(text.clone()),
                AttributeValue::Integer(n) => pb::attribute_value::Value::Integer(*n),
                AttributeValue::Boolean(b) => pb::attribute_value::Value::Boolean(*b),
                AttributeValue::Money(money) => pb::attribute_value::Value::Money(pb::Money {
                    amount_minor: money.amount(),
                    currency: money.currency().code().to_owned(),
                }),
                AttributeValue::TextList(items) => {
                    pb::attribute_value::Value::TextList(pb::TextList {
                        items: items.clone(),
                    })
                }
            };
            (key.clone(), pb::AttributeValue { value: Some(value) })
        })
        .collect()
}

/// Attributes of a request; a value without a type, or money in an unknown currency, is
/// `INVALID_ARGUMENT` naming the key.
fn attributes_from_pb(
    attributes: std::collections::BTreeMap<String, pb::AttributeValue>,
) -> Result<Attributes, Status> {
    attributes
        .into_iter()
        .map(|(key, value)| {
            let value = match value.value {
                None => {
                    return Err(invalid(
                        "attributes",
                        &format!("{}: has no value", cut(&key)),
                    ))
                }
                Some(pb::attribute_value::Value::Text(text)) => AttributeValue::Text(text),
                Some(pb::attribute_value::Value::Integer(n)) => AttributeValue::Integer(n),
                Some(pb::attribute_value::Value::Boolean(b)) => AttributeValue::Boolean(b),
                Some(pb::attribute_value::Value::Money(money)) => {
                    let currency = Currency::parse(money.currency.trim()).map_err(|_| {
                        invalid(
                            "attributes",
                            &format!("{}: currency must be an ISO 4217 code", cut(&key)),
                        )
                    })?;
                    AttributeValue::Money(Money::new(money.amount_minor, currency))
                }
                Some(pb::attribute_value::Value::TextList(list)) => {
                    AttributeValue::TextList(list.items)
                }
            };
            Ok((key, value))
        })
        .collect()
}

/// At most 64 characters of a client's key, for an error message.
fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

#[tonic::async_trait]
impl ProductCommands for ProductService {
    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.create",
            request,
            |message| new_id(&message.product_id, "productId"),
            |message, product_id| {
                Ok(ProductCommand::CreateProduct {
                    product_id,
                    name: message.name,
                    description: message.description,
                    brand: message.brand,
                    attributes: attributes_from_pb(message.attributes)?,
                    categories: message.categories,
                    now: Utc::now(),
                })
            },
        )
        .await
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.update",
            request,
            |message| existing(&message.product_id),
            |message, _| {
                Ok(ProductCommand::UpdateProduct(ProductChanges {
                    name: message.name,
                    description: message.description,
                    brand: message.brand,
                    attributes: message
                        .attributes
                        .map(|a| attributes_from_pb(a.values))
                        .transpose()?,
                }))
            },
        )
        .await
    }

    async fn add_variant(
        &self,
        request: Request<pb::AddVariantRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        let variant_id = new_id(&request.get_ref().variant_id, "variantId")?;
        let mut response = self
            .run(
                "product.add_variant",
                request,
                |message| existing(&message.product_id),
                |message, _| {
                    Ok(ProductCommand::AddVariant {
                        variant_id,
                        sku: message.sku,
                        attributes: attributes_from_pb(message.attributes)?,
                    })
                },
            )
            .await?;
        response.get_mut().variant_id = self
            .added_id(response.get_ref(), variant_id, |event| match event {
                ProductEvent::ProductVariantAdded { variant } => Some(variant.variant_id),
                _ => None,
            })
            .await;
        Ok(response)
    }

    async fn update_variant(
        &self,
        request: Request<pb::UpdateVariantRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.update_variant",
            request,
            |message| existing(&message.product_id),
            |message, _| {
                Ok(ProductCommand::UpdateVariant {
                    variant_id: parse_uuid(&message.variant_id, "variantId")?,
                    sku: message.sku,
                    attributes: message
                        .attributes
                        .map(|a| attributes_from_pb(a.values))
                        .transpose()?,
                })
            },
        )
        .await
    }

    async fn remove_variant(
        &self,
        request: Request<pb::RemoveVariantRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.remove_variant",
            request,
            |message| existing(&message.product_id),
            |message, _| {
                Ok(ProductCommand::RemoveVariant {
                    variant_id: parse_uuid(&message.variant_id, "variantId")?,
                })
            },
        )
        .await
    }

    async fn assign_categories(
        &self,
        request: Request<pb::AssignCategoriesRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.assign_categories",
            request,
            |message| existing(&message.product_id),
            |message, _| {
                Ok(ProductCommand::AssignCategories {
                    categories: message.categories,
                })
            },
        )
        .await
    }

    async fn publish_product(
        &self,
        request: Request<pb::ProductLifecycleRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.publish",
            request,
            |message| existing(&message.product_id),
            |_, _| Ok(ProductCommand::PublishProduct { now: Utc::now() }),
        )
        .await
    }

    async fn unpublish_product(
        &self,
        request: Request<pb::ProductLifecycleRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.unpublish",
            request,
            |message| existing(&message.product_id),
            |_, _| Ok(ProductCommand::UnpublishProduct { now: Utc::now() }),
        )
        .await
    }

    async fn discontinue_product(
        &self,
        request: Request<pb::ProductLifecycleRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.discontinue",
            request,
            |message| existing(&message.product_id),
            |_, _| Ok(ProductCommand::DiscontinueProduct { now: Utc::now() }),
        )
        .await
    }

    async fn attach_media(
        &self,
        request: Request<pb::AttachMediaRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        let media_id = new_id(&request.get_ref().media_id, "mediaId")?;
        let mut response = self
            .run(
                "product.attach_media",
                request,
                |message| existing(&message.product_id),
                |message, product_id| {
                    let checksum = message.checksum_sha256.trim().to_ascii_lowercase();
                    if !media::is_sha256_hex(&checksum) {
                        return Err(invalid("checksumSha256", "must be 64 hexadecimal digits"));
                    }
                    let content_type =
                        media::accepted_type(&message.content_type).ok_or_else(|| {
                            invalid(
                                "contentType",
                                &format!(
                                    "must be one of {}",
                                    media::ACCEPTED_MEDIA_TYPES.join(", ")
                                ),
                            )
                        })?;
                    Ok(ProductCommand::AttachMedia(MediaRef {
                        media_id,
                        uri: media::object_key(product_id, &checksum, content_type),
                        content_type: content_type.to_owned(),
                        alt_text: message.alt_text,
                        checksum_sha256: Some(checksum),
                    }))
                },
            )
            .await?;
        response.get_mut().media_id = self
            .added_id(response.get_ref(), media_id, |event| match event {
                ProductEvent::ProductMediaAttached { media } => Some(media.media_id),
                _ => None,
            })
            .await;
        Ok(response)
    }

    async fn remove_media(
        &self,
        request: Request<pb::RemoveMediaRequest>,
    ) -> Result<Response<pb::ProductResult>, Status> {
        self.run(
            "product.remove_media",
            request,
            |message| existing(&message.product_id),
            |message, _| {
                Ok(ProductCommand::RemoveMedia {
                    media_id: parse_uuid(&message.media_id, "mediaId")?,
                })
            },
        )
        .await
    }
}
