//! `PriceBookCommands`: the PriceBook aggregate over gRPC. A book may hold a great many
//! prices, so a reply carries the book's header, its number of prices and the prices of the one
//! SKU the command was about, never the whole book.

use tonic::{Request, Response, Status};

use cqrs_es::Aggregate as _;
use shopcore_domain::pricing::{PriceBook, PriceBookCommand, EVENT_SCHEMA_VERSION};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::EventStore;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::price_book_commands_server::PriceBookCommands;

use super::{currency, money, money_to_pb, run};
use crate::grpc::{command_requests, command_result, new_id, parse_uuid};
use crate::pipeline::{CommandOutcome, CommandPipeline};

/// Snapshots of price books: every 100 events (each price set is one).
pub fn price_book_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(PriceBook::TYPE, 100, 1, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of price books over `store`.
pub fn price_book_pipeline(store: EventStore) -> CommandPipeline<PriceBook> {
    CommandPipeline::new(store, (), price_book_snapshots())
}

command_requests!(
    pb::CreatePriceBookRequest,
    pb::SetBasePriceRequest,
    pb::RemoveBasePriceRequest,
);

/// The gRPC service of the PriceBook aggregate.
pub struct PriceBookService {
    pipeline: CommandPipeline<PriceBook>,
}

impl PriceBookService {
    pub fn new(store: EventStore) -> Self {
        Self {
            pipeline: price_book_pipeline(store),
        }
    }
}

fn existing(price_book_id: &str) -> Result<uuid::Uuid, Status> {
    parse_uuid(price_book_id, "priceBookId")
}

/// The reply: what the command did, the book's header and the prices of `sku` (trimmed, as
/// the domain keys it) after it.
fn price_book_result(
    outcome: &CommandOutcome<PriceBook>,
    sku: Option<&str>,
) -> pb::PriceBookResult {
    let state = &outcome.state;
    let sku_prices = sku
        .and_then(|sku| state.prices.get(sku.trim()))
        .map(|by_currency| by_currency.values().copied().map(money_to_pb).collect())
        .unwrap_or_default();
    let price_count: usize = state
        .prices
        .values()
        .map(|by_currency| by_currency.len())
        .sum();
    pb::PriceBookResult {
        result: Some(command_result(outcome.aggregate_id.clone(), outcome)),
        price_book: Some(pb::PriceBook {
            price_book_id: outcome.aggregate_id.clone(),
            name: state.name.clone(),
            default_currency: state
                .default_currency
                .map(|c| c.code().to_owned())
                .unwrap_or_default(),
            price_count: u32::try_from(price_count).unwrap_or(u32::MAX),
            sku_prices,
        }),
    }
}

#[tonic::async_trait]
impl PriceBookCommands for PriceBookService {
    async fn create_price_book(
        &self,
        request: Request<pb::CreatePriceBookRequest>,
    ) -> Result<Response<pb::PriceBookResult>, Status> {
        let outcome = run(
            &self.pipeline,
            "price_book.create",
            request,
            |message| new_id(&message.price_book_id, "priceBookId"),
            |message, price_book_id| {
                Ok(PriceBookCommand::CreatePriceBook {
                    price_book_id: *price_book_id,
                    name: message.name,
                    default_currency: currency(&message.default_currency, "defaultCurrency")?,
                })
            },
        )
        .await?;
        Ok(Response::new(price_book_result(&outcome, None)))
    }

    async fn set_base_price(
        &self,
        request: Request<pb::SetBasePriceRequest>,
    ) -> Result<Response<pb::PriceBookResult>, Status> {
        let sku = request.get_ref().sku.clone();
        let outcome = run(
            &self.pipeline,
            "price_book.set_base_price",
            request,
            |message| existing(&message.price_book_id),
            |message, _| {
                Ok(PriceBookCommand::SetBasePrice {
                    sku: message.sku,
                    price: money(message.price, "price")?,
                })
            },
        )
        .await?;
        Ok(Response::new(price_book_result(&outcome, Some(&sku))))
    }

    async fn remove_base_price(
        &self,
        request: Request<pb::RemoveBasePriceRequest>,
    ) -> Result<Response<pb::PriceBookResult>, Status> {
        let sku = request.get_ref().sku.clone();
        let outcome = run(
            &self.pipeline,
            "price_book.remove_base_price",
            request,
            |message| existing(&message.price_book_id),
            |message, _| {
                Ok(PriceBookCommand::RemoveBasePrice {
                    sku: message.sku,
                    currency: currency(&message.currency, "currency")?,
                })
            },
        )
        .await?;
        Ok(Response::new(price_book_result(&outcome, Some(&sku))))
    }
}
