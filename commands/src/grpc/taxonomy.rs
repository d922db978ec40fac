//! `CategoryCommands`: the category tree over gRPC (one aggregate, [`TAXONOMY_ID`]), and the
//! directory the Product aggregate asks whether a category exists.

use async_trait::async_trait;
use tonic::{Request, Response, Status};

use cqrs_es::Aggregate as _;
use shopcore_auth::scopes::MANAGE_PRODUCTS;
use shopcore_domain::catalog::taxonomy::{
    Taxonomy, TaxonomyCommand, EVENT_SCHEMA_VERSION, TAXONOMY_ID,
};
use shopcore_domain::catalog::CategoryDirectory;
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::EventStore;
use shopcore_proto::catalog::v1 as pb;
use shopcore_proto::catalog::v1::category_commands_server::CategoryCommands;

use super::{command_requests, command_result, denied, execute, principal, CommandRequest};
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Snapshots of the tree: every 50 events (the whole tree is one stream).
pub fn taxonomy_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(Taxonomy::TYPE, 50, 1, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of the category tree over `store`.
pub fn taxonomy_pipeline(store: EventStore) -> CommandPipeline<Taxonomy> {
    CommandPipeline::new(store, (), taxonomy_snapshots())
}

/// Category keys, from the tree as the event store has it now (its snapshot and the events
/// after it).
pub(crate) struct TaxonomyCategories(pub(crate) EventStore);

#[async_trait]
impl CategoryDirectory for TaxonomyCategories {
    async fn unknown(&self, keys: &[String]) -> Result<Vec<String>, String> {
        let tree = self
            .0
            .load::<Taxonomy>(&taxonomy_snapshots(), TAXONOMY_ID)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "category lookup failed");
                "the category tree could not be read".to_owned()
            })?;
        Ok(keys
            .iter()
            .filter(|key| !tree.aggregate.contains(key))
            .cloned()
            .collect())
    }
}

command_requests!(
    pb::CreateCategoryRequest,
    pb::UpdateCategoryRequest,
    pb::MoveCategoryRequest,
    pb::RemoveCategoryRequest,
);

/// The gRPC service of the category tree.
pub struct CategoryService {
    pipeline: CommandPipeline<Taxonomy>,
}

impl CategoryService {
    pub fn new(store: EventStore) -> Self {
        Self {
            pipeline: taxonomy_pipeline(store),
        }
    }

    async fn run<M: CommandRequest>(
        &self,
        command_type: &'static str,
        request: Request<M>,
        command: impl FnOnce(M) -> TaxonomyCommand,
    ) -> Result<Response<pb::TaxonomyResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        caller.platform(MANAGE_PRODUCTS).map_err(denied)?;
        let (message, options, fingerprint) = message.split();
        let outcome = execute(
            &self.pipeline,
            command_type,
            (caller, &metadata),
            (options, fingerprint),
            TAXONOMY_ID,
            command(message),
        )
        .await?;
        Ok(Response::new(taxonomy_result(&outcome)))
    }
}

/// The tree depth first, siblings by position then key.
pub fn ordered(tree: &Taxonomy) -> Vec<pb::Category> {
    fn visit(tree: &Taxonomy, parent: Option<&str>, out: &mut Vec<pb::Category>) {
        let mut children: Vec<_> = tree
            .categories
            .values()
            .filter(|c| c.parent.as_deref() == parent)
            .collect();
        children.sort_by(|a, b| (a.position, &a.key).cmp(&(b.position, &b.key)));
        for category in children {
            out.push(pb::Category {
                key: category.key.clone(),
                name: category.name.clone(),
                parent: category.parent.clone(),
                position: category.position,
                path: tree.path(&category.key),
            });
            visit(tree, Some(&category.key), out);
        }
    }
    let mut out = Vec::with_capacity(tree.categories.len());
    visit(tree, None, &mut out);
    out
}

fn taxonomy_result(outcome: &CommandOutcome<Taxonomy>) -> pb::TaxonomyResult {
    pb::TaxonomyResult {
        result: Some(command_result(TAXONOMY_ID, outcome)),
        categories: ordered(&outcome.state),
    }
}

#[tonic::async_trait]
impl CategoryCommands for CategoryService {
    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Result<Response<pb::TaxonomyResult>, Status> {
        self.run("category.create", request, |message| {
            TaxonomyCommand::CreateCategory {
                key: message.key,
                name: message.name,
                parent: message.parent,
                position: message.position,
            }
        })
        .await
    }

    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Result<Response<pb::TaxonomyResult>, Status> {
        self.run("category.update", request, |message| {
            TaxonomyCommand::UpdateCategory {
                key: message.key,
                name: message.name,
                position: message.position,
            }
        })
        .await
    }

    async fn move_category(
        &self,
        request: Request<pb::MoveCategoryRequest>,
    ) -> Result<Response<pb::TaxonomyResult>, Status> {
        self.run("category.move", request, |message| {
            TaxonomyCommand::MoveCategory {
                key: message.key,
                parent: message.parent,
                position: message.position,
            }
        })
        .await
    }

    async fn remove_category(
        &self,
        request: Request<pb::RemoveCategoryRequest>,
    ) -> Result<Response<pb::TaxonomyResult>, Status> {
        self.run("category.remove", request, |message| {
            TaxonomyCommand::RemoveCategory { key: message.key }
        })
        .await
    }
}
