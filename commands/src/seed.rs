//! Seed data: customers with segments (the plan's "1k customers with segmentation (VIP,
//! general)"). Ids and idempotency keys are derived from the customer's number, so seeding twice
//! writes nothing new.

use std::sync::Arc;

use futures::{stream, StreamExt as _, TryStreamExt as _};
use shopcore_domain::customer::CustomerCommand;
use shopcore_event_store::EventStore;
use uuid::Uuid;

use crate::error::CommandError;
use crate::grpc::customer::customer_pipeline;
use crate::metadata::CommandContext;

const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x2d0c_51a5_4a3e_4f5b_8e77_a1c3_93f0_5eed);

/// What seeding wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeedReport {
    pub customers: usize,
    pub events_written: u64,
}

/// Registers `count` customers (every tenth `VIP`, the rest `general`), 8 commands at a time.
pub async fn seed_customers(store: &EventStore, count: usize) -> Result<SeedReport, CommandError> {
    let pipeline = Arc::new(customer_pipeline(store.clone()));
    let written: Vec<u64> = stream::iter(0..count)
        .map(|n| {
            let pipeline = pipeline.clone();
            async move {
                let id = Uuid::new_v5(&SEED_NAMESPACE, format!("customer-{n}").as_bytes());
                let mut context = CommandContext::new("customer.register", format!("seed-{n}"));
                context.actor = "seed".to_owned();
                context.idempotency_key = Some(format!("seed-customer-{n}"));
                let registered = pipeline
                    .execute(
                        &id.to_string(),
                        CustomerCommand::Register {
                            customer_id: id,
                            email: format!("seed.customer{n}@example.com"),
                            first_name: "Seed".to_owned(),
                            last_name: format!("Customer {n}"),
                            phone: None,
                        },
                        &context,
                    )
                    .await?;
                let mut context =
                    CommandContext::new("customer.assign_segments", format!("seed-{n}"));
                context.actor = "seed".to_owned();
                let segment = if n % 10 == 0 { "VIP" } else { "general" };
                let segmented = pipeline
                    .execute(
                        &id.to_string(),
                        CustomerCommand::AssignSegments {
                            segments: vec![segment.to_owned()],
                        },
                        &context,
                    )
                    .await?;
                Ok::<_, CommandError>(u64::from(
                    registered.events_written + segmented.events_written,
                ))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    Ok(SeedReport {
        customers: count,
        events_written: written.iter().sum(),
    })
}
