//! `CustomerCommands`: the Customer aggregate over gRPC.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use shopcore_domain::customer::{
    Address, Customer, CustomerCommand, CustomerEmailLookup, CustomerServices, ProfileChanges,
};
use shopcore_proto::common::v1::{CommandOptions, CommandResult};
use shopcore_proto::customer::v1 as pb;
use shopcore_proto::customer::v1::customer_commands_server::CustomerCommands;

use super::{command_context, command_result, command_status, invalid, parse_uuid};
use crate::claims::CUSTOMER_EMAIL;
use crate::event_store::EventStore;
use crate::pipeline::CommandPipeline;

/// E-mail ownership from the unique-claims table of the event store.
pub(crate) struct ClaimedEmails(pub(crate) EventStore);

#[async_trait]
impl CustomerEmailLookup for ClaimedEmails {
    async fn owner_of(&self, email: &str) -> Result<Option<Uuid>, String> {
        let owner = self
            .0
            .claim_owner(CUSTOMER_EMAIL, email)
            .await
            .map_err(|e| e.to_string())?;
        Ok(owner.and_then(|id| Uuid::parse_str(&id).ok()))
    }
}

/// The gRPC service of the Customer aggregate.
pub struct CustomerService {
    pipeline: CommandPipeline<Customer>,
}

impl CustomerService {
    pub fn new(store: EventStore) -> Self {
        let services = CustomerServices {
            emails: Arc::new(ClaimedEmails(store.clone())),
        };
        Self {
            pipeline: CommandPipeline::new(store, services),
        }
    }

    async fn run(
        &self,
        command_type: &'static str,
        metadata: &tonic::metadata::MetadataMap,
        customer_id: &str,
        options: Option<&CommandOptions>,
        command: impl FnOnce(Uuid) -> Result<CustomerCommand, Status>,
    ) -> Result<Response<CommandResult>, Status> {
        let started = Instant::now();
        let id = parse_uuid(customer_id, "customerId")?;
        let context = command_context(command_type, metadata, options)?;
        let command = command(id)?;
        let result = self
            .pipeline
            .execute(&id.to_string(), command, &context)
            .await;
        crate::app::record_command(command_type, result.as_ref().err(), started.elapsed());
        result
            .map(|outcome| Response::new(command_result(id.to_string(), outcome)))
            .map_err(command_status)
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

#[tonic::async_trait]
impl CustomerCommands for CustomerService {
    async fn register_customer(
        &self,
        request: Request<pb::RegisterCustomerRequest>,
    ) -> Result<Response<CommandResult>, Status> {
        let (metadata, _, request) = request.into_parts();
        let options = request.options.clone();
        self.run(
            "customer.register",
            &metadata,
            &request.customer_id,
            options.as_ref(),
            |customer_id| {
                Ok(CustomerCommand::Register {
                    customer_id,
                    email: request.email,
                    first_name: request.first_name,
                    last_name: request.last_name,
                    phone: request.phone,
                })
            },
        )
        .await
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<CommandResult>, Status> {
        let (metadata, _, request) = request.into_parts();
        let options = request.options.clone();
        self.run(
            "customer.update_profile",
            &metadata,
            &request.customer_id,
            options.as_ref(),
            |_| {
                Ok(CustomerCommand::UpdateProfile(ProfileChanges {
                    email: request.email,
                    first_name: request.first_name,
                    last_name: request.last_name,
                    phone: request.phone,
                }))
            },
        )
        .await
    }

    async fn add_address(
        &self,
        request: Request<pb::AddAddressRequest>,
    ) -> Result<Response<CommandResult>, Status> {
        let (metadata, _, request) = request.into_parts();
        let options = request.options.clone();
        self.run(
            "customer.add_address",
            &metadata,
            &request.customer_id,
            options.as_ref(),
            |_| {
                Ok(CustomerCommand::AddAddress {
                    address_id: parse_uuid(&request.address_id, "addressId")?,
                    address: address(request.address)?,
                })
            },
        )
        .await
    }

    async fn update_address(
        &self,
        request: Request<pb::UpdateAddressRequest>,
    ) -> Result<Response<CommandResult>, Status> {
        let (metadata, _, request) = request.into_parts();
        let options = request.options.clone();
        self.run(
            "customer.update_address",
            &metadata,
            &request.customer_id,
            options.as_ref(),
            |_| {
                Ok(CustomerCommand::UpdateAddress {
                    address_id: parse_uuid(&request.address_id, "addressId")?,
                    address: address(request.address)?,
                })
            },
        )
        .await
    }

    async fn remove_address(
        &self,
        request: Request<pb::RemoveAddressRequest>,
    ) -> Result<Response<CommandResult>, Status> {
        let (metadata, _, request) = request.into_parts();
        let options = request.options.clone();
        self.run(
            "customer.remove_address",
            &metadata,
            &request.customer_id,
            options.as_ref(),
            |_| {
                Ok(CustomerCommand::RemoveAddress {
                    address_id: parse_uuid(&request.address_id, "addressId")?,
                })
            },
        )
        .await
    }

    async fn assign_segments(
        &self,
        request: Request<pb::AssignSegmentsRequest>,
    ) -> Result<Response<CommandResult>, Status> {
        let (metadata, _, request) = request.into_parts();
        let options = request.options.clone();
        self.run(
            "customer.assign_segments",
            &metadata,
            &request.customer_id,
            options.as_ref(),
            |_| {
                Ok(CustomerCommand::AssignSegments {
                    segments: request.segments,
                })
            },
        )
        .await
    }
}
