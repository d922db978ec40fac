//! GraphQL at `/graphql` (async-graphql) over the same read models as REST: products (one,
//! by SKU, or a Relay connection with filters), the category tree, and customers (`customer`,
//! and `me` for a customer-bound token) — with the same scopes as REST. `GET /graphql` serves
//! GraphiQL; `POST /graphql` needs a bearer token. A product's categories come through a
//! DataLoader, so a page of products costs one category query, not one per product. Queries
//! deeper than [`MAX_DEPTH`] or more complex than [`MAX_COMPLEXITY`] are refused before they
//! run. `Shopcore-Min-Position` makes the request wait for the catalog, as in REST. The SDL is
//! in `docs/api/schema.graphql` (`shopcore-gateway graphql-sdl`). Pricing (`price`, rules,
//! promotions, price books) is in [`pricing`], carts (`cart`, `cartBySession`) in [`cart`],
//! merged into the one `Query`.

pub mod cart;
pub mod pricing;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{
    ComplexObject, Context, EmptyMutation, EmptySubscription, ErrorExtensions, MergedObject,
    Object, Schema, SimpleObject, ID,
};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use shopcore_auth::scopes::VIEW_PRODUCTS;
use shopcore_auth::{Access, Principal};
use shopcore_event_store::LogPosition;
use shopcore_projections::catalog::read_model::{
    AttributeView, CatalogReadModel, MediaView, ProductFilter, ProductView,
};
use shopcore_projections::catalog::taxonomy::CategoryRow;
use shopcore_projections::customer::CustomerView;
use uuid::Uuid;

use crate::routes::catalog::{list_query, MAX_PAGE};
use crate::routes::{min_position, AppState};

/// Deepest query accepted (`products.edges.node.categories.name` is 5).
pub const MAX_DEPTH: usize = 10;
/// Most complex query accepted (each field costs 1).
pub const MAX_COMPLEXITY: usize = 2_000;

pub type ShopcoreSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema, with its limits.
pub fn schema() -> ShopcoreSchema {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The SDL of the schema, as committed in `docs/api/schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}

fn error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

fn forbidden(denied: shopcore_auth::Denied) -> async_graphql::Error {
    error(
        "FORBIDDEN",
        format!("{} (needs {})", denied.reason, denied.scope),
    )
}

fn unavailable(detail: impl std::fmt::Display) -> async_graphql::Error {
    tracing::warn!(error = %detail, "graphql read failed");
    error("UNAVAILABLE", "a read model is unavailable; retry shortly")
}

/// A typed attribute: its key, type and value (a JSON value).
#[derive(SimpleObject)]
pub struct Attribute {
    pub key: String,
    /// text, integer, boolean, money or textList.
    pub r#type: String,
    pub value: async_graphql::Json<serde_json::Value>,
}

fn attributes(map: &std::collections::BTreeMap<String, AttributeView>) -> Vec<Attribute> {
    map.iter()
        .map(|(key, value)| {
            let json = serde_json::to_value(value).unwrap_or_default();
            Attribute {
                key: key.clone(),
                r#type: json["type"].as_str().unwrap_or_default().to_owned(),
                value: async_graphql::Json(json["value"].clone()),
            }
        })
        .collect()
}

/// A sellable variant.
#[derive(SimpleObject)]
pub struct Variant {
    pub id: ID,
    pub sku: String,
    pub attributes: Vec<Attribute>,
}

/// An image of a product. Uploads are `pending` until the media worker has checked their bytes,
/// then `processed` (size, checksum, dimensions, thumbnail) or `rejected` (with a reason).
#[derive(SimpleObject)]
pub struct Media {
    pub id: ID,
    /// Where to fetch it.
    pub url: String,
    /// Its key in the media store.
    pub uri: String,
    pub content_type: String,
    pub alt_text: Option<String>,
    /// pending, processed or rejected.
    pub status: String,
    pub size_bytes: Option<i64>,
    pub checksum_sha256: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub thumbnail_url: Option<String>,
    pub rejection_reason: Option<String>,
}

impl From<&MediaView> for Media {
    fn from(m: &MediaView) -> Self {
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Self {
            id: ID(m.id.to_string()),
            url: m.url.clone(),
            uri: m.uri.clone(),
            content_type: m.content_type.clone(),
            alt_text: m.alt_text.clone(),
            status: m.status.clone(),
            size_bytes: m.size_bytes.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            checksum_sha256: m.checksum_sha256.clone(),
            width: m.width.map(int),
            height: m.height.map(int),
            thumbnail_url: m.thumbnail_url.clone(),
            rejection_reason: m.rejection_reason.clone(),
        }
    }
}

/// A category of the tree.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Category {
    pub key: String,
    pub name: String,
    pub parent: Option<String>,
    /// Keys from the root down to this category.
    pub path: Vec<String>,
    pub depth: i32,
    pub position: i32,
}

impl From<CategoryRow> for Category {
    fn from(row: CategoryRow) -> Self {
        Self {
            path: row.path.split('/').map(str::to_owned).collect(),
            key: row.key,
            name: row.name,
            parent: row.parent,
            depth: i32::from(row.depth),
            position: i32::try_from(row.position).unwrap_or(i32::MAX),
        }
    }
}

#[ComplexObject]
impl Category {
    /// Its direct children, siblings by position then key; loaded for every category of a
    /// level at once.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let loader = ctx.data::<DataLoader<ChildrenLoader>>()?;
        Ok(loader.load_one(self.key.clone()).await?.unwrap_or_default())
    }
}

/// A product.
pub struct Product(ProductView);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn brand(&self) -> Option<&str> {
        self.0.brand.as_deref()
    }
    /// draft, published or discontinued.
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// The product's version (number of events).
    async fn version(&self) -> i64 {
        i64::try_from(self.0.version).unwrap_or(i64::MAX)
    }
    /// The log position of its latest event (a `Shopcore-Position` token).
    async fn position(&self) -> &str {
        &self.0.position
    }
    async fn attributes(&self) -> Vec<Attribute> {
        attributes(&self.0.attributes)
    }
    async fn variants(&self) -> Vec<Variant> {
        self.0
            .variants
            .iter()
            .map(|v| Variant {
                id: ID(v.id.to_string()),
                sku: v.sku.clone(),
                attributes: attributes(&v.attributes),
            })
            .collect()
    }
    async fn media(&self) -> Vec<Media> {
        self.0.media.iter().map(Media::from).collect()
    }
    /// The keys of its categories, in the order given.
    async fn category_keys(&self) -> &[String] {
        &self.0.categories
    }
    /// Its categories (those the tree still has), loaded for a whole page at once.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let loader = ctx.data::<DataLoader<CategoryLoader>>()?;
        let found = loader.load_many(self.0.categories.iter().cloned()).await?;
        Ok(self
            .0
            .categories
            .iter()
            .filter_map(|key| found.get(key).cloned())
            .collect())
    }
}

/// Loads categories by key, many at once. Counts its batches, for tests of the N+1 rule.
pub struct CategoryLoader {
    catalog: CatalogReadModel,
    pub batches: Arc<std::sync::atomic::AtomicUsize>,
}

impl Loader<String> for CategoryLoader {
    type Value = Category;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Category>, Self::Error> {
        self.batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rows = self
            .catalog
            .categories_by_key(keys)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.key.clone(), Category::from(row)))
            .collect())
    }
}

/// Loads the children of categories, many parents at once (counted with the category
/// batches).
pub struct ChildrenLoader {
    catalog: CatalogReadModel,
    batches: Arc<std::sync::atomic::AtomicUsize>,
}

impl Loader<String> for ChildrenLoader {
    type Value = Vec<Category>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        parents: &[String],
    ) -> Result<HashMap<String, Vec<Category>>, Self::Error> {
        self.batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rows = self
            .catalog
            .categories_by_parent(parents)
            .await
            .map_err(unavailable)?;
        let mut children: HashMap<String, Vec<Category>> =
            parents.iter().map(|p| (p.clone(), Vec::new())).collect();
        for row in rows {
            if let Some(siblings) = row.parent.clone().and_then(|p| children.get_mut(&p)) {
                siblings.push(Category::from(row));
            }
        }
        Ok(children)
    }
}

/// A customer.
#[derive(SimpleObject)]
pub struct Customer {
    pub id: ID,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub segments: Vec<String>,
    pub version: i64,
}

impl From<CustomerView> for Customer {
    fn from(view: CustomerView) -> Self {
        Self {
            id: ID(view.id.to_string()),
            email: view.email,
            first_name: view.first_name,
            last_name: view.last_name,
            phone: view.phone,
            segments: view.segments,
            version: i64::try_from(view.version).unwrap_or(i64::MAX),
        }
    }
}

/// The query root: catalog and customer fields (`CatalogQuery`), pricing and cart fields.
#[derive(MergedObject, Default)]
pub struct Query(CatalogQuery, pricing::PricingQuery, cart::CartQuery);

#[derive(Default)]
pub struct CatalogQuery;

fn caller<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Principal>()
}

fn catalog<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a CatalogReadModel> {
    ctx.data::<CatalogReadModel>()
}

fn uuid(id: &ID, field: &str) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| error("BAD_USER_INPUT", format!("{field}: must be a UUID")))
}

async fn customer_by_id(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Customer>> {
    caller(ctx)?
        .customer(Some(id), Access::Read)
        .map_err(forbidden)?;
    let reads = &ctx.data::<AppState>()?.customer_reads;
    Ok(reads
        .customer(id, LogPosition::START)
        .await
        .map_err(unavailable)?
        .map(Customer::from))
}

#[Object]
impl CatalogQuery {
    /// A product, unless discontinued.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        caller(ctx)?.require(VIEW_PRODUCTS).map_err(forbidden)?;
        let id = uuid(&id, "id")?;
        let product = catalog(ctx)?.product(id).await.map_err(unavailable)?;
        Ok(product.filter(|p| p.status != "discontinued").map(Product))
    }

    /// The product with a variant of this SKU.
    async fn product_by_sku(
        &self,
        ctx: &Context<'_>,
        sku: String,
    ) -> async_graphql::Result<Option<Product>> {
        caller(ctx)?.require(VIEW_PRODUCTS).map_err(forbidden)?;
        let query = HashMap::from([("sku".to_owned(), sku)])
            .into_iter()
            .collect();
        let (filter, _, _) = list_query(&query).map_err(|p| error("BAD_USER_INPUT", p.detail))?;
        let page = catalog(ctx)?
            .products(&filter, None, 1)
            .await
            .map_err(unavailable)?;
        Ok(page.items.into_iter().next().map(Product))
    }

    /// Products in creation order, a page at a time (Relay connection; the cursor is the
    /// product id). Filters combine; without `status`, discontinued products are left out.
    #[allow(clippy::too_many_arguments)]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        category: Option<String>,
        sku: Option<String>,
        name_prefix: Option<String>,
        #[graphql(desc = "`<key>:<value>`, as in REST's `attribute`")] attribute: Option<String>,
        status: Option<String>,
    ) -> async_graphql::Result<Connection<String, Product>> {
        caller(ctx)?.require(VIEW_PRODUCTS).map_err(forbidden)?;
        let mut query = std::collections::BTreeMap::new();
        let pairs = [
            ("category", category),
            ("sku", sku),
            ("q", name_prefix),
            ("attribute", attribute),
            ("status", status),
            ("cursor", after.clone()),
            ("limit", first.map(|n| n.to_string())),
        ];
        for (name, value) in pairs {
            if let Some(value) = value {
                query.insert(name.to_owned(), value);
            }
        }
        let (filter, after_id, limit): (ProductFilter, _, _) = list_query(&query).map_err(|p| {
            let field = match p.field.as_deref() {
                Some("q") => "namePrefix",
                Some("cursor") => "after",
                Some("limit") => "first",
                Some(other) => other,
                None => "query",
            }
            .to_owned();
            error("BAD_USER_INPUT", format!("{field}: {}", p.detail)).extend_with(|_, e| {
                e.set("field", field.clone());
            })
        })?;
        let page = catalog(ctx)?
            .products(&filter, after_id, limit.min(MAX_PAGE))
            .await
            .map_err(unavailable)?;
        let mut connection = Connection::new(after.is_some(), page.next.is_some());
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|product| Edge::new(product.id.to_string(), Product(product))),
        );
        Ok(connection)
    }

    /// A category of the tree.
    async fn category(
        &self,
        ctx: &Context<'_>,
        key: String,
    ) -> async_graphql::Result<Option<Category>> {
        caller(ctx)?.require(VIEW_PRODUCTS).map_err(forbidden)?;
        let loader = ctx.data::<DataLoader<CategoryLoader>>()?;
        loader.load_one(key).await
    }

    /// The whole tree, depth first (siblings by position, then key).
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        caller(ctx)?.require(VIEW_PRODUCTS).map_err(forbidden)?;
        let rows = catalog(ctx)?.categories().await.map_err(unavailable)?;
        Ok(rows.into_iter().map(Category::from).collect())
    }

    /// A customer, with the same access rules as `GET /customers/{id}`.
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Customer>> {
        let id = uuid(&id, "id")?;
        customer_by_id(ctx, id).await
    }

    /// The customer a customer-bound token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        let Some(id) = caller(ctx)?.customer_id else {
            return Err(error(
                "BAD_USER_INPUT",
                "me: the token is not bound to a customer",
            ));
        };
        customer_by_id(ctx, id).await
    }
}

/// `GET /graphql`: GraphiQL.
pub async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .title("Shopcore GraphQL")
            .finish(),
    )
}

/// `POST /graphql`: runs one request with the caller's token and fresh DataLoaders.
pub async fn execute(
    State(state): State<AppState>,
    Extension(schema): Extension<ShopcoreSchema>,
    Extension(principal): Extension<Principal>,
    token: Option<Extension<crate::auth::BearerToken>>,
    correlation: Option<Extension<crate::correlation::CorrelationId>>,
    headers: HeaderMap,
    axum::Json(request): axum::Json<async_graphql::Request>,
) -> Response {
    // Read-your-writes, as in REST: wait for the catalog to reach the position (pricing
    // fields wait for the pricing index or read model themselves).
    let wanted = match min_position(&state, &headers).await {
        Ok(wanted) => wanted,
        Err(problem) => return problem.into_response(),
    };
    if wanted != LogPosition::START {
        let timeout = state.read_your_writes_timeout;
        if let Err(e) = state.catalog.wait_for_products(wanted, timeout).await {
            return crate::routes::catalog::unavailable(&e).into_response();
        }
    }
    let batches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let loader = CategoryLoader {
        catalog: state.catalog.clone(),
        batches: batches.clone(),
    };
    let children = ChildrenLoader {
        catalog: state.catalog.clone(),
        batches: batches.clone(),
    };
    let pricing_batches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let request = pricing::request_data(
        request,
        &state,
        token.map(|Extension(t)| t),
        correlation.map(|Extension(c)| c),
        wanted,
        pricing_batches.clone(),
    );
    // An anonymous cart's session token, for `cart(id)` (a header sent twice is refused, as
    // in REST).
    let session = match crate::routes::carts::session_header(&headers) {
        Ok(session) => session,
        Err(problem) => return problem.into_response(),
    };
    let request = match session {
        Some(session) => request.data(cart::CartSession(session)),
        None => request,
    };
    let request = request
        .data(principal)
        .data(state.catalog.clone())
        .data(DataLoader::new(loader, tokio::spawn))
        .data(DataLoader::new(children, tokio::spawn))
        .data(state);
    let mut response = schema.execute(request).await;
    // How many category queries the request cost: one per batch, not one per product.
    let loads = batches.load(std::sync::atomic::Ordering::Relaxed);
    response.extensions.insert(
        "categoryQueries".to_owned(),
        async_graphql::Value::from(i32::try_from(loads).unwrap_or(i32::MAX)),
    );
    // And how many pricing read-model queries its rules and book prices cost.
    let loads = pricing_batches.load(std::sync::atomic::Ordering::Relaxed);
    response.extensions.insert(
        "pricingQueries".to_owned(),
        async_graphql::Value::from(i32::try_from(loads).unwrap_or(i32::MAX)),
    );
    axum::Json(response).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_api_schema_graphql_is_up_to_date() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api/schema.graphql");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            sdl() == committed,
            "{} is out of date: run `cargo run -p shopcore-gateways --bin shopcore-gateway -- graphql-sdl > docs/api/schema.graphql`",
            path.display()
        );
    }

    /// The limits are checked before any resolver runs: no read model is needed to see them.
    #[tokio::test]
    async fn queries_too_deep_or_too_complex_are_refused_before_they_run() {
        let schema = schema();
        // The classic deep query: introspection types nested through `ofType`.
        let of_types = (0..MAX_DEPTH).fold("name".to_owned(), |inner, _| {
            format!("ofType {{ {inner} }}")
        });
        let deep = format!("{{ __schema {{ types {{ fields {{ type {{ {of_types} }} }} }} }} }}");
        let response = schema.execute(deep.as_str()).await;
        assert!(
            response
                .errors
                .iter()
                .any(|e| e.message.contains("nested too deep")),
            "{:?}",
            response.errors
        );
        // A wide query: the same field under many aliases.
        let wide: String = (0..MAX_COMPLEXITY)
            .map(|n| format!("a{n}: categories {{ key }} "))
            .collect();
        let response = schema.execute(format!("{{ {wide} }}").as_str()).await;
        assert!(
            response
                .errors
                .iter()
                .any(|e| e.message.contains("complex")),
            "{:?}",
            response.errors
        );
        // What clients ask is within both limits.
        let nested = "{ products { edges { node { categories { key path } variants { attributes { value } } } } pageInfo { hasNextPage endCursor } } }";
        let allowed = schema.execute(nested).await;
        assert!(
            allowed
                .errors
                .iter()
                .all(|e| !e.message.contains("nested too deep") && !e.message.contains("complex")),
            "{:?}",
            allowed.errors
        );
    }

    #[test]
    fn attributes_keep_their_type_and_value_and_categories_their_path() {
        use shopcore_projections::catalog::read_model::MoneyView;
        let map = std::collections::BTreeMap::from([
            (
                "care".to_owned(),
                AttributeView::TextList(vec!["no dryer".into()]),
            ),
            (
                "deposit".to_owned(),
                AttributeView::Money(MoneyView {
                    amount: 250,
                    currency: "EUR".into(),
                }),
            ),
            ("weight_grams".to_owned(), AttributeView::Integer(280)),
        ]);
        let fields: Vec<(String, String, serde_json::Value)> = attributes(&map)
            .into_iter()
            .map(|a| (a.key, a.r#type, a.value.0))
            .collect();
        assert_eq!(
            fields,
            vec![
                (
                    "care".into(),
                    "textList".into(),
                    serde_json::json!(["no dryer"])
                ),
                (
                    "deposit".into(),
                    "money".into(),
                    serde_json::json!({"amount": 250, "currency": "EUR"})
                ),
                (
                    "weight_grams".into(),
                    "integer".into(),
                    serde_json::json!(280)
                ),
            ]
        );
        let category = Category::from(CategoryRow {
            key: "trail".into(),
            name: "Trail".into(),
            parent: Some("shoes".into()),
            path: "footwear/shoes/trail".into(),
            depth: 3,
            position: 2,
        });
        assert_eq!(category.path, ["footwear", "shoes", "trail"]);
        assert_eq!((category.depth, category.position), (3, 2));
    }

    #[test]
    fn media_show_their_processing_and_urls_under_the_configured_base() {
        use shopcore_domain::catalog::{Media as DomainMedia, MediaStatus};
        use shopcore_projections::catalog::read_model::MediaUrls;
        let stored = DomainMedia {
            media_id: Uuid::nil(),
            uri: "products/p/ab.png".into(),
            content_type: "image/png".into(),
            alt_text: None,
            status: MediaStatus::Processed,
            checksum_sha256: Some("ab".into()),
            size_bytes: Some(u64::MAX),
            width: Some(1200),
            height: Some(800),
            thumbnail_uri: Some("products/p/ab-thumb.jpg".into()),
            rejection_reason: None,
        };
        let media = Media::from(&MediaUrls::new("https://cdn.example.com/m/").view(&stored));
        assert_eq!(media.url, "https://cdn.example.com/m/products/p/ab.png");
        assert_eq!(
            media.thumbnail_url.as_deref(),
            Some("https://cdn.example.com/m/products/p/ab-thumb.jpg")
        );
        assert_eq!(media.status, "processed");
        assert_eq!((media.width, media.height), (Some(1200), Some(800)));
        assert_eq!(media.size_bytes, Some(i64::MAX), "clamped, never wrapped");
        let pending = Media::from(&MediaUrls::default().view(&DomainMedia {
            status: MediaStatus::Pending,
            thumbnail_uri: None,
            ..stored
        }));
        assert_eq!(pending.url, "/media/products/p/ab.png");
        assert_eq!(pending.thumbnail_url, None);
    }

    #[tokio::test]
    async fn every_resolver_asks_for_the_caller() {
        // Without a principal in the request data a resolver fails instead of answering.
        let response = schema().execute("{ categories { key } }").await;
        assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        assert!(response.data == async_graphql::Value::Null);
    }
}
