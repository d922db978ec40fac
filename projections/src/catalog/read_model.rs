//! What the gateway reads of the catalog: products from CouchDB (one, or a page of a filtered
//! list), the category tree from MySQL, and waiting until a projection has reached a log
//! position (read-your-writes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shopcore_domain::catalog::{AttributeValue, Media, MediaStatus, ProductStatus};
use shopcore_event_store::LogPosition;
use sqlx::MySqlPool;
use uuid::Uuid;

use super::couch::couch_checkpoint;
use super::taxonomy::{category_tree, CategoryRow, TaxonomyMysqlProjector};
use super::ProductDocument;
use crate::couch::CouchDb;
use crate::error::ProjectionError;
use crate::stores::mysql_checkpoint;

/// Errors reading the catalog read model.
#[derive(Debug, thiserror::Error)]
pub enum CatalogReadError {
    #[error("{0}")]
    Store(#[from] ProjectionError),
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    /// The read model did not reach the requested position in time.
    #[error("read model is at position {reached}, not yet at {wanted}")]
    NotYetAt {
        wanted: LogPosition,
        reached: LogPosition,
    },
}

impl From<crate::couch::CouchError> for CatalogReadError {
    fn from(error: crate::couch::CouchError) -> Self {
        Self::Store(error.into())
    }
}

/// A typed attribute value: `{"type": "integer", "value": 42}`; money is
/// `{"type": "money", "value": {"amount": 1999, "currency": "EUR"}}` in minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "value", rename_all = "camelCase")]
pub enum AttributeView {
    Text(String),
    Integer(#[serde(deserialize_with = "whole::i64")] i64),
    Boolean(bool),
    Money(MoneyView),
    TextList(Vec<String>),
}

/// An amount in minor units of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MoneyView {
    #[serde(deserialize_with = "whole::i64")]
    pub amount: i64,
    pub currency: String,
}

impl From<&AttributeValue> for AttributeView {
    fn from(value: &AttributeValue) -> Self {
        match value {
            AttributeValue::Text(text) => Self::Text(text.clone()),
            AttributeValue::Integer(n) => Self::Integer(*n),
            AttributeValue::Boolean(b) => Self::Boolean(*b),
            AttributeValue::Money(money) => Self::Money(MoneyView {
                amount: money.amount(),
                currency: money.currency().code().to_owned(),
            }),
            AttributeValue::TextList(items) => Self::TextList(items.clone()),
        }
    }
}

/// A sellable variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantView {
    pub id: Uuid,
    pub sku: String,
    pub attributes: BTreeMap<String, AttributeView>,
}

/// A media object of a product. `url` and `thumbnailUrl` are where clients fetch it (the
/// gateway's `/media/…` or the configured public base URL); `uri` is its key in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    pub id: Uuid,
    pub uri: String,
    #[serde(default)]
    pub url: String,
    /// The declared type while `pending`; the type its bytes show once `processed`.
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    /// `pending` (stored, not yet checked), `processed` or `rejected`.
    #[schema(example = "processed")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// SHA-256 of the bytes, lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Why processing refused it (`rejected` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
}

/// The API name of a media status.
pub fn media_status_name(status: MediaStatus) -> &'static str {
    match status {
        MediaStatus::Pending => "pending",
        MediaStatus::Processed => "processed",
        MediaStatus::Rejected => "rejected",
    }
}

/// Where clients fetch media: `base` followed by the object's key. The default base is the
/// gateway's own `/media` route; a CDN or a public bucket is configured with
/// `MEDIA_PUBLIC_BASE_URL`.
#[derive(Debug, Clone)]
pub struct MediaUrls {
    base: String,
}

impl Default for MediaUrls {
    fn default() -> Self {
        Self::new("/media")
    }
}

impl MediaUrls {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The URL of the object stored under `key`.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{}", self.base, key.trim_start_matches('/'))
    }

    /// The view of one media object.
    pub fn view(&self, media: &Media) -> MediaView {
        MediaView {
            id: media.media_id,
            uri: media.uri.clone(),
            url: self.url(&media.uri),
            content_type: media.content_type.clone(),
            alt_text: media.alt_text.clone(),
            status: media_status_name(media.status).to_owned(),
            size_bytes: media.size_bytes,
            checksum_sha256: media.checksum_sha256.clone(),
            width: media.width,
            height: media.height,
            thumbnail_url: media.thumbnail_uri.as_deref().map(|key| self.url(key)),
            rejection_reason: media.rejection_reason.clone(),
        }
    }
}

/// A product as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    pub attributes: BTreeMap<String, AttributeView>,
    /// In SKU order.
    pub variants: Vec<VariantView>,
    /// Category keys, in the order given.
    pub categories: Vec<String>,
    pub media: Vec<MediaView>,
    /// `draft`, `published` or `discontinued`.
    pub status: String,
    /// The product's version: its number of events (the `ETag`).
    pub version: u64,
    /// The log position of the product's latest event, as a `Shopcore-Position` token.
    #[schema(value_type = String, example = "1042-17")]
    pub position: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The API name of a product status.
pub fn status_name(status: ProductStatus) -> &'static str {
    match status {
        ProductStatus::Draft => "draft",
        ProductStatus::Published => "published",
        ProductStatus::Discontinued => "discontinued",
    }
}

impl ProductView {
    /// The view of a product document, its media URLs under `urls`.
    pub fn of(doc: &ProductDocument, urls: &MediaUrls) -> Self {
        let attributes = |map: &shopcore_domain::catalog::Attributes| {
            map.iter()
                .map(|(key, value)| (key.clone(), AttributeView::from(value)))
                .collect()
        };
        Self {
            id: doc.product_id,
            name: doc.name.clone(),
            description: doc.description.clone(),
            brand: doc.brand.clone(),
            attributes: attributes(&doc.attributes),
            variants: doc
                .variants
                .iter()
                .map(|v| VariantView {
                    id: v.variant_id,
                    sku: v.sku.clone(),
                    attributes: attributes(&v.attributes),
                })
                .collect(),
            categories: doc.categories.clone(),
            media: doc.media.iter().map(|m| urls.view(m)).collect(),
            status: status_name(doc.status).to_owned(),
            version: doc.version,
            position: doc.log_position.clone(),
            created_at: doc.created_at,
            updated_at: Some(doc.updated_at),
        }
    }
}

/// Filters of a product list; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// A category key the product is in (directly).
    pub category: Option<String>,
    /// A SKU of one of its variants.
    pub sku: Option<String>,
    /// The start of its name (case-sensitive, as stored).
    pub name_prefix: Option<String>,
    /// A product attribute (not a variant's) with this key and value: a text equal to the
    /// value, a text list holding it, or an integer or boolean written the same way.
    pub attribute: Option<(String, String)>,
    /// Without a status, discontinued products are left out.
    pub status: Option<ProductStatus>,
}

/// A page of products in id order (UUID v7: creation order), and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct ProductPage {
    pub items: Vec<ProductView>,
    /// The id to continue after, when there may be more.
    pub next: Option<Uuid>,
}

/// Queries over the catalog read model.
#[derive(Clone)]
pub struct CatalogReadModel {
    couch: CouchDb,
    mysql: MySqlPool,
    urls: MediaUrls,
}

impl CatalogReadModel {
    pub fn new(couch: CouchDb, mysql: MySqlPool) -> Self {
        Self {
            couch,
            mysql,
            urls: MediaUrls::default(),
        }
    }

    /// Media URLs under `urls` instead of the gateway's `/media`.
    pub fn with_media_urls(mut self, urls: MediaUrls) -> Self {
        self.urls = urls;
        self
    }

    /// Where this read model says media are fetched.
    pub fn media_urls(&self) -> &MediaUrls {
        &self.urls
    }

    /// Waits (polling, at most `timeout`) until the product documents have reached `wanted`.
    pub async fn wait_for_products(
        &self,
        wanted: LogPosition,
        timeout: Duration,
    ) -> Result<LogPosition, CatalogReadError> {
        let couch = self.couch.clone();
        wait_until(wanted, timeout, move || {
            let couch = couch.clone();
            async move { Ok(couch_checkpoint(&couch).await?) }
        })
        .await
    }

    /// Waits (polling, at most `timeout`) until the category tree has reached `wanted`.
    pub async fn wait_for_categories(
        &self,
        wanted: LogPosition,
        timeout: Duration,
    ) -> Result<LogPosition, CatalogReadError> {
        let mysql = self.mysql.clone();
        wait_until(wanted, timeout, move || {
            let mysql = mysql.clone();
            async move { Ok(mysql_checkpoint(&mysql, TaxonomyMysqlProjector::NAME).await?) }
        })
        .await
    }

    /// One product, if the catalog has it.
    pub async fn product(&self, id: Uuid) -> Result<Option<ProductView>, CatalogReadError> {
        let Some(raw) = self.couch.get(&id.to_string()).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_value::<ProductDocument>(raw)
            .ok()
            .filter(|doc| doc.kind == "product")
            .map(|doc| ProductView::of(&doc, &self.urls)))
    }

    /// A page of at most `limit` products after `after`, in id order.
    pub async fn products(
        &self,
        filter: &ProductFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<ProductPage, CatalogReadError> {
        let mut selector = serde_json::Map::new();
        selector.insert("type".into(), json!("product"));
        selector.insert(
            "_id".into(),
            json!({ "$gt": after.map(|id| id.to_string()).unwrap_or_default() }),
        );
        if let Some(category) = &filter.category {
            selector.insert(
                "categories".into(),
                json!({ "$elemMatch": { "$eq": category } }),
            );
        }
        if let Some(sku) = &filter.sku {
            selector.insert("skus".into(), json!({ "$elemMatch": { "$eq": sku } }));
        }
        if let Some(prefix) = &filter.name_prefix {
            // Every name with this prefix sorts between the prefix and the prefix followed by
            // the highest code point.
            selector.insert(
                "name".into(),
                json!({ "$gte": prefix, "$lt": format!("{prefix}\u{10FFFF}") }),
            );
        }
        if let Some((key, value)) = &filter.attribute {
            let field = format!("attributes.{key}.value");
            let mut any = vec![
                json!({ &field: value }),
                json!({ &field: { "$elemMatch": { "$eq": value } } }),
            ];
            if let Ok(number) = value.parse::<i64>() {
                any.push(json!({ &field: number }));
            }
            if let Ok(flag) = value.parse::<bool>() {
                any.push(json!({ &field: flag }));
            }
            selector.insert("$or".into(), Value::Array(any));
        }
        match filter.status {
            Some(status) => selector.insert("status".into(), json!(status_name(status))),
            // Discontinued products are listed only when asked for.
            None => selector.insert(
                "status".into(),
                json!({ "$ne": status_name(ProductStatus::Discontinued) }),
            ),
        };
        let docs = self
            .couch
            .find(&json!({
                "selector": Value::Object(selector),
                "sort": [{ "_id": "asc" }],
                "limit": limit + 1,
            }))
            .await?;
        let mut items: Vec<ProductView> = docs
            .into_iter()
            .filter_map(|doc| serde_json::from_value::<ProductDocument>(doc).ok())
            .map(|doc| ProductView::of(&doc, &self.urls))
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|p| p.id)
        } else {
            None
        };
        Ok(ProductPage { items, next })
    }

    /// The categories with these keys (those that exist), in one query.
    pub async fn categories_by_key(
        &self,
        keys: &[String],
    ) -> Result<Vec<CategoryRow>, CatalogReadError> {
        Ok(super::taxonomy::categories_by_key(&self.mysql, keys).await?)
    }

    /// The children of `parents`, siblings by position then key, in one query.
    pub async fn categories_by_parent(
        &self,
        parents: &[String],
    ) -> Result<Vec<CategoryRow>, CatalogReadError> {
        Ok(super::taxonomy::categories_by_parent(&self.mysql, parents).await?)
    }

    /// The whole category tree, depth first.
    pub async fn categories(&self) -> Result<Vec<CategoryRow>, CatalogReadError> {
        Ok(category_tree(&self.mysql).await?)
    }
}

async fn wait_until<F, Fut>(
    wanted: LogPosition,
    timeout: Duration,
    position: F,
) -> Result<LogPosition, CatalogReadError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<LogPosition, CatalogReadError>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        let reached = position().await?;
        if reached >= wanted {
            return Ok(reached);
        }
        if Instant::now() + pause > deadline {
            return Err(CatalogReadError::NotYetAt { wanted, reached });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Serde helpers for request bodies: JSON Schema counts `42.0` as an integer, so whole
/// numbers written with a fraction part are accepted (and anything else refused).
pub mod whole {
    use serde::de::{Deserializer, Error, Visitor};

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = i128;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<i128, E> {
            // Beyond 2^53 a float is no longer exact: refuse rather than round.
            if v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0 {
                Ok(v as i128)
            } else {
                Err(E::custom(format!("{v} is not a whole number")))
            }
        }
    }

    fn number<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
        let n = d.deserialize_any(Whole)?;
        T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range")))
    }

    /// An `i64`, also from `42.0`.
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        number(d)
    }

    /// A present `u32` (absent is `None` through `#[serde(default)]`; `null` is refused).
    pub fn some_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        number(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_written_with_a_fraction_part_are_read_exactly() {
        // Found by schemathesis: without serde_json's float_roundtrip this parsed as
        // 4002515103404222.5 and was refused as not whole.
        let money: MoneyView =
            serde_json::from_str(r#"{"amount": 4002515103404222.0, "currency": "NOK"}"#)
                .expect("whole");
        assert_eq!(money.amount, 4_002_515_103_404_222);
        let exact: MoneyView =
            serde_json::from_str(r#"{"amount": 9007199254740992.0, "currency": "EUR"}"#)
                .expect("2^53 is still exact");
        assert_eq!(exact.amount, 9_007_199_254_740_992);
        for refused in ["12.5", "9007199254740994.0", "1e300"] {
            let json = format!(r#"{{"amount": {refused}, "currency": "EUR"}}"#);
            assert!(
                serde_json::from_str::<MoneyView>(&json).is_err(),
                "{refused}"
            );
        }
    }
}
