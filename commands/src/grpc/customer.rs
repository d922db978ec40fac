//! `CustomerCommands`: the Customer aggregate over gRPC.

use std::sync::Arc;

use async_trait::async_trait;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cqrs_es::Aggregate as _;
use shopcore_domain::customer::{
    Address, Customer, CustomerCommand, CustomerEmailLookup, CustomerServices, ProfileChanges,
    EVENT_SCHEMA_VERSION,
};
use shopcore_event_store::snapshot::SnapshotPolicy;
use shopcore_event_store::{EventStore, GlobalLog, LogPosition};
use shopcore_proto::customer::v1 as pb;
use shopcore_proto::customer::v1::customer_commands_server::CustomerCommands;

use super::{
    command_requests, command_result, denied, execute, invalid, new_id, parse_uuid, principal,
    CommandRequest,
};
use crate::claims::CUSTOMER_EMAIL;
use crate::pipeline::{CommandOutcome, CommandPipeline};
use shopcore_auth::Access;

/// Snapshots of customers: every 100 events, valid for this state layout and event schema.
pub fn customer_snapshots() -> SnapshotPolicy {
    SnapshotPolicy::new(Customer::TYPE, 100, 1, EVENT_SCHEMA_VERSION)
}

/// The command pipeline of customers over `store`.
pub fn customer_pipeline(store: EventStore) -> CommandPipeline<Customer> {
    let services = CustomerServices {
        emails: Arc::new(ClaimedEmails(store.clone())),
    };
    CommandPipeline::new(store, services, customer_snapshots())
}

/// E-mail ownership from the unique-claims table of the event store.
pub(crate) struct ClaimedEmails(pub(crate) EventStore);

#[async_trait]
impl CustomerEmailLookup for ClaimedEmails {
    async fn owner_of(&self, email: &str) -> Result<Option<Uuid>, String> {
        // The store's error stays in the log; the caller learns only that it may retry.
        let owner = self
            .0
            .claim_owner(CUSTOMER_EMAIL, email)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "e-mail lookup failed");
                "the e-mail directory did not answer".to_owned()
            })?;
        Ok(owner.and_then(|id| Uuid::parse_str(&id).ok()))
    }
}

/// The gRPC service of the Customer aggregate.
pub struct CustomerService {
    pipeline: CommandPipeline<Customer>,
    log: GlobalLog,
}

impl CustomerService {
    pub fn new(store: EventStore) -> Self {
        Self {
            log: GlobalLog::new(store.pool().clone()),
            pipeline: customer_pipeline(store),
        }
    }

    /// Checks the caller's access to the customer, builds the command and runs it.
    async fn run<M: CommandRequest>(
        &self,
        command_type: &'static str,
        access: Access,
        request: Request<M>,
        customer_id: impl FnOnce(&M) -> Result<Uuid, Status>,
        command: impl FnOnce(M, Uuid) -> Result<CustomerCommand, Status>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let caller = principal(&extensions)?;
        let (message, options, fingerprint) = message.split();
        let id = customer_id(&message)?;
        caller.customer(Some(id), access).map_err(denied)?;
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
        Ok(Response::new(customer_result(id, &outcome)))
    }
}

impl CustomerService {
    /// The address a replayed AddAddress added: from its event, at the first result's position.
    async fn added_address(&self, reply: &pb::CustomerResult) -> Option<String> {
        let position: LogPosition = reply.result.as_ref()?.log_position.parse().ok()?;
        let event = self.log.event_at(position).await.ok()??;
        match serde_json::from_value(event.payload).ok()? {
            shopcore_domain::customer::CustomerEvent::CustomerAddressAdded {
                address_id, ..
            } => Some(address_id.to_string()),
            _ => None,
        }
    }
}

/// The reply: what the command did and the customer after it.
fn customer_result(id: Uuid, outcome: &CommandOutcome<Customer>) -> pb::CustomerResult {
    let state = &outcome.state;
    pb::CustomerResult {
        result: Some(command_result(id.to_string(), outcome)),
        customer: Some(pb::Customer {
            customer_id: id.to_string(),
            email: state.email.clone(),
            first_name: state.first_name.clone(),
            last_name: state.last_name.clone(),
            phone: state.phone.clone(),
            addresses: state
                .addresses
                .iter()
                .map(|(address_id, address)| pb::CustomerAddress {
                    address_id: address_id.to_string(),
                    address: Some(pb::Address {
                        line1: address.line1.clone(),
                        line2: address.line2.clone(),
                        city: address.city.clone(),
                        region: address.region.clone(),
                        postal_code: address.postal_code.clone(),
                        country: address.country.clone(),
                        label: address.label.clone(),
                    }),
                })
                .collect(),
            segments: state.segments.iter().cloned().collect(),
        }),
        address_id: String::new(),
    }
}

fn address(address: Option<pb::Address>) -> Result<Address, Status> {
    let address = address.ok_or_else(|| invalid("address", "is required"))?;
    Ok(Address {
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        region: address.region,
        postal_code: address.postal_code,
        country: address.country,
        label: address.label,
    })
}

command_requests!(
    pb::RegisterCustomerRequest,
    pb::UpdateProfileRequest,
    pb::AddAddressRequest,
    pb::UpdateAddressRequest,
    pb::RemoveAddressRequest,
    pb::AssignSegmentsRequest,
);

fn existing(customer_id: &str) -> Result<Uuid, Status> {
    parse_uuid(customer_id, "customerId")
}

#[tonic::async_trait]
impl CustomerCommands for CustomerService {
    async fn register_customer(
        &self,
        request: Request<pb::RegisterCustomerRequest>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        self.run(
            "customer.register",
            Access::Write,
            request,
            |message| new_id(&message.customer_id, "customerId"),
            |message, customer_id| {
                Ok(CustomerCommand::Register {
                    customer_id,
                    email: message.email,
                    first_name: message.first_name,
                    last_name: message.last_name,
                    phone: message.phone,
                })
            },
        )
        .await
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        self.run(
            "customer.update_profile",
            Access::Write,
            request,
            |message| existing(&message.customer_id),
            |message, _| {
                Ok(CustomerCommand::UpdateProfile(ProfileChanges {
                    email: message.email,
                    first_name: message.first_name,
                    last_name: message.last_name,
                    phone: message.phone,
                }))
            },
        )
        .await
    }

    async fn add_address(
        &self,
        request: Request<pb::AddAddressRequest>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        // An empty id lets the service pick one (so a retry with the same idempotency key is the
        // same request); a replay finds the first one from its event.
        let address_id = new_id(&request.get_ref().address_id, "addressId")?;
        let mut response = self
            .run(
                "customer.add_address",
                Access::Write,
                request,
                |message| existing(&message.customer_id),
                |message, _| {
                    Ok(CustomerCommand::AddAddress {
                        address_id,
                        address: address(message.address)?,
                    })
                },
            )
            .await?;
        let replayed = response
            .get_ref()
            .result
            .as_ref()
            .is_some_and(|r| r.replayed);
        let added = if replayed {
            self.added_address(response.get_ref()).await
        } else {
            Some(address_id.to_string())
        };
        response.get_mut().address_id = added.unwrap_or_default();
        Ok(response)
    }

    async fn update_address(
        &self,
        request: Request<pb::UpdateAddressRequest>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        self.run(
            "customer.update_address",
            Access::Write,
            request,
            |message| existing(&message.customer_id),
            |message, _| {
                Ok(CustomerCommand::UpdateAddress {
                    address_id: parse_uuid(&message.address_id, "addressId")?,
                    address: address(message.address)?,
                })
            },
        )
        .await
    }

    async fn remove_address(
        &self,
        request: Request<pb::RemoveAddressRequest>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        self.run(
            "customer.remove_address",
            Access::Write,
            request,
            |message| existing(&message.customer_id),
            |message, _| {
                Ok(CustomerCommand::RemoveAddress {
                    address_id: parse_uuid(&message.address_id, "addressId")?,
                })
            },
        )
        .await
    }

    async fn assign_segments(
        &self,
        request: Request<pb::AssignSegmentsRequest>,
    ) -> Result<Response<pb::CustomerResult>, Status> {
        self.run(
            "customer.assign_segments",
            Access::Segments,
            request,
            |message| existing(&message.customer_id),
            |message, _| {
                Ok(CustomerCommand::AssignSegments {
                    segments: message.segments,
                })
            },
        )
        .await
    }
}
