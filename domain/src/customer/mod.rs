//! The `Customer` aggregate: profile, addresses and segments.
//!
//! - [`commands`]: what a caller may ask ([`CustomerCommand`]).
//! - [`events`]: what happened ([`CustomerEvent`]), each with a stable name and a version.
//! - [`errors`]: why a command was rejected ([`CustomerError`]).
//! - [`limits`]: the input limits (addresses, segments, field lengths), shared by [`values`],
//!   which enforces them, and [`errors`], whose messages state them.
//! - [`values`]: validated value objects (email, names, phone, address, segment).
//! - [`recalculation`]: the spend rule of the segment policy, and how a customer applies it
//!   once per checkout.
//! - this file: the aggregate state, `handle` (decide) and `apply` (fold).
//!
//! E-mail uniqueness across customers is asked of [`CustomerEmailLookup`] for a clear rejection;
//! the command service also reserves the address in the same transaction as the events, so two
//! racing registrations cannot both win.

pub mod commands;
pub mod errors;
pub mod events;
pub mod limits;
pub mod recalculation;
pub mod values;

#[cfg(test)]
mod recalculation_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use commands::{CustomerCommand, ProfileChanges};
pub use errors::CustomerError;
pub use events::{CustomerEvent, ProfileChanged, EVENT_SCHEMA_VERSION};
pub use recalculation::{
    CheckoutCause, LogOrder, SegmentRecalculated, SegmentRecalculation, Spend, SpendRule, Verdict,
};
pub use values::{Address, Email};

/// Who, if anyone, already uses an e-mail address.
#[async_trait]
pub trait CustomerEmailLookup: Send + Sync {
    /// The customer that holds `email` (normalised, lower case), if any.
    async fn owner_of(&self, email: &str) -> Result<Option<Uuid>, String>;
}

/// What the Customer aggregate needs from outside.
#[derive(Clone)]
pub struct CustomerServices {
    pub emails: Arc<dyn CustomerEmailLookup>,
}

/// The state a command needs to be decided; rebuilt from the customer's events.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: Option<Uuid>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub addresses: BTreeMap<Uuid, Address>,
    pub segments: BTreeSet<String>,
    /// The log place of the last checkout the segments were recalculated for: commands for it
    /// or an earlier one write nothing (see [`recalculation`]). Absent in snapshots taken
    /// before recalculation existed, which is what they mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments_recalculated_through: Option<LogOrder>,
}

impl Customer {
    fn registered_id(&self) -> Result<Uuid, CustomerError> {
        self.id.ok_or(CustomerError::NotRegistered)
    }

    async fn ensure_email_free(
        &self,
        email: &Email,
        me: Uuid,
        services: &CustomerServices,
    ) -> Result<(), CustomerError> {
        match services.emails.owner_of(email.as_str()).await {
            Ok(Some(owner)) if owner != me => Err(CustomerError::EmailInUse),
            Ok(_) => Ok(()),
            Err(reason) => Err(CustomerError::LookupFailed(reason)),
        }
    }

    fn decide_profile_update(
        &self,
        changes: ProfileChanges,
    ) -> Result<ProfileChanged, CustomerError> {
        if changes.is_empty() {
            return Err(CustomerError::EmptyUpdate);
        }
        let email = changes.email.map(|e| Email::parse(&e)).transpose()?;
        let first_name = changes
            .first_name
            .map(|n| values::person_name(&n, "firstName"))
            .transpose()?;
        let last_name = changes
            .last_name
            .map(|n| values::person_name(&n, "lastName"))
            .transpose()?;
        let phone = changes
            .phone
            .map(|p| values::optional_phone(&p))
            .transpose()?;
        // Only what actually changes goes into the event.
        Ok(ProfileChanged {
            email: email.map(Email::into_string).filter(|e| *e != self.email),
            first_name: first_name.filter(|n| *n != self.first_name),
            last_name: last_name.filter(|n| *n != self.last_name),
            phone: phone.filter(|p| *p != self.phone),
        })
    }
}

impl Aggregate for Customer {
    const TYPE: &'static str = "customer";
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;
    type Services = CustomerServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            CustomerCommand::Register {
                customer_id,
                email,
                first_name,
                last_name,
                phone,
            } => {
                if self.id.is_some() {
                    return Err(CustomerError::AlreadyRegistered);
                }
                let email = Email::parse(&email)?;
                let first_name = values::person_name(&first_name, "firstName")?;
                let last_name = values::person_name(&last_name, "lastName")?;
                let phone = phone
                    .map(|p| values::optional_phone(&p))
                    .transpose()?
                    .flatten();
                self.ensure_email_free(&email, customer_id, services)
                    .await?;
                let event = CustomerEvent::CustomerRegistered {
                    customer_id,
                    email: email.into_string(),
                    first_name,
                    last_name,
                    phone,
                };
                sink.write(event, self).await;
            }
            CustomerCommand::UpdateProfile(changes) => {
                let me = self.registered_id()?;
                let changed = self.decide_profile_update(changes)?;
                if let Some(email) = &changed.email {
                    self.ensure_email_free(&Email::parse(email)?, me, services)
                        .await?;
                }
                if !changed.is_empty() {
                    sink.write(CustomerEvent::CustomerProfileUpdated(changed), self)
                        .await;
                }
            }
            CustomerCommand::AddAddress {
                address_id,
                address,
            } => {
                self.registered_id()?;
                let address = address.validated()?;
                if self.addresses.contains_key(&address_id) {
                    return Err(CustomerError::AddressAlreadyExists(address_id));
                }
                if self.addresses.len() >= limits::MAX_ADDRESSES {
                    return Err(CustomerError::TooManyAddresses);
                }
                sink.write(
                    CustomerEvent::CustomerAddressAdded {
                        address_id,
                        address,
                    },
                    self,
                )
                .await;
            }
            CustomerCommand::UpdateAddress {
                address_id,
                address,
            } => {
                self.registered_id()?;
                let address = address.validated()?;
                let current = self
                    .addresses
                    .get(&address_id)
                    .ok_or(CustomerError::UnknownAddress(address_id))?;
                if *current != address {
                    sink.write(
                        CustomerEvent::CustomerAddressUpdated {
                            address_id,
                            address,
                        },
                        self,
                    )
                    .await;
                }
            }
            CustomerCommand::RemoveAddress { address_id } => {
                self.registered_id()?;
                if !self.addresses.contains_key(&address_id) {
                    return Err(CustomerError::UnknownAddress(address_id));
                }
                sink.write(CustomerEvent::CustomerAddressRemoved { address_id }, self)
                    .await;
            }
            CustomerCommand::AssignSegments { segments } => {
                self.registered_id()?;
                let wanted = values::segments(&segments)?;
                if wanted != self.segments {
                    let event = CustomerEvent::CustomerSegmentsAssigned {
                        added: wanted.difference(&self.segments).cloned().collect(),
                        removed: self.segments.difference(&wanted).cloned().collect(),
                        segments: wanted.into_iter().collect(),
                    };
                    sink.write(event, self).await;
                }
            }
            CustomerCommand::RecalculateSegments(recalculation) => {
                self.registered_id()?;
                if let Some(recalculated) = self.decide_recalculation(recalculation)? {
                    sink.write(
                        CustomerEvent::CustomerSegmentRecalculated(recalculated),
                        self,
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CustomerEvent::CustomerRegistered {
                customer_id,
                email,
                first_name,
                last_name,
                phone,
            } => {
                self.id = Some(customer_id);
                self.email = email;
                self.first_name = first_name;
                self.last_name = last_name;
                self.phone = phone;
            }
            CustomerEvent::CustomerProfileUpdated(changed) => {
                if let Some(email) = changed.email {
                    self.email = email;
                }
                if let Some(first_name) = changed.first_name {
                    self.first_name = first_name;
                }
                if let Some(last_name) = changed.last_name {
                    self.last_name = last_name;
                }
                if let Some(phone) = changed.phone {
                    self.phone = phone;
                }
            }
            CustomerEvent::CustomerAddressAdded {
                address_id,
                address,
            }
            | CustomerEvent::CustomerAddressUpdated {
                address_id,
                address,
            } => {
                self.addresses.insert(address_id, address);
            }
            CustomerEvent::CustomerAddressRemoved { address_id } => {
                self.addresses.remove(&address_id);
            }
            CustomerEvent::CustomerSegmentsAssigned { segments, .. } => {
                self.segments = segments.into_iter().collect();
            }
            CustomerEvent::CustomerSegmentRecalculated(recalculated) => {
                self.segments = recalculated.segments.into_iter().collect();
                self.segments_recalculated_through = Some(recalculated.checkout_log_order);
            }
        }
    }
}
