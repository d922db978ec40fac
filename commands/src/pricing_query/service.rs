//! `PricingQueries` over gRPC: `GetPrice` and `Simulate` for any token with `view_prices`,
//! answered by [`PricingAnswers`].

use tonic::{Request, Response, Status};

use shopcore_auth::scopes::VIEW_PRICES;
use shopcore_pricing_index::answer::PricingAnswers;
use shopcore_proto::pricing::v1 as pb;
use shopcore_proto::pricing::v1::pricing_queries_server::PricingQueries;

use crate::grpc::{denied, principal};

/// The gRPC service over the index.
#[derive(Clone)]
pub struct PricingQueryService {
    answers: PricingAnswers,
}

impl PricingQueryService {
    pub fn new(answers: PricingAnswers) -> Self {
        Self { answers }
    }
}

#[tonic::async_trait]
impl PricingQueries for PricingQueryService {
    async fn get_price(
        &self,
        request: Request<pb::GetPriceRequest>,
    ) -> Result<Response<pb::PriceAnswer>, Status> {
        let (_, extensions, message) = request.into_parts();
        principal(&extensions)?
            .require(VIEW_PRICES)
            .map_err(denied)?;
        self.answers.get_price(message).await.map(Response::new)
    }

    async fn simulate(
        &self,
        request: Request<pb::SimulateRequest>,
    ) -> Result<Response<pb::PriceAnswer>, Status> {
        let (_, extensions, message) = request.into_parts();
        principal(&extensions)?
            .require(VIEW_PRICES)
            .map_err(denied)?;
        self.answers.simulate(message).await.map(Response::new)
    }
}
