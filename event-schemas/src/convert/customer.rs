//! `shopcore.customer` records.

use apache_avro::types::Value;
use shopcore_domain::customer::{Address, CustomerEvent, SegmentRecalculated, Verdict};

use super::{domain_event, uuid_id, Record};
use crate::envelope::EventEnvelope;
use crate::error::EncodeError;

pub(super) fn to_record(event: &EventEnvelope<'_>) -> Result<Value, EncodeError> {
    let domain: CustomerEvent = domain_event(event)?;
    let head = Record::event(event, "customerId", uuid_id(event)?);
    Ok(match domain {
        CustomerEvent::CustomerRegistered {
            customer_id: _,
            email,
            first_name,
            last_name,
            phone,
        } => head
            .string("email", email)
            .string("firstName", first_name)
            .string("lastName", last_name)
            .optional("phone", phone.map(Value::String)),
        CustomerEvent::CustomerProfileUpdated(changed) => {
            let mut fields = Vec::new();
            if changed.email.is_some() {
                fields.push("email");
            }
            if changed.first_name.is_some() {
                fields.push("firstName");
            }
            if changed.last_name.is_some() {
                fields.push("lastName");
            }
            if changed.phone.is_some() {
                fields.push("phone");
            }
            head.strings("changedFields", fields)
                .optional("email", changed.email.map(Value::String))
                .optional("firstName", changed.first_name.map(Value::String))
                .optional("lastName", changed.last_name.map(Value::String))
                .optional("phone", changed.phone.flatten().map(Value::String))
        }
        CustomerEvent::CustomerAddressAdded {
            address_id,
            address,
        }
        | CustomerEvent::CustomerAddressUpdated {
            address_id,
            address,
        } => head
            .uuid("addressId", address_id)
            .field("address", address_record(address)),
        CustomerEvent::CustomerAddressRemoved { address_id } => head.uuid("addressId", address_id),
        CustomerEvent::CustomerSegmentsAssigned {
            segments,
            added,
            removed,
        } => head
            .strings("segments", segments)
            .strings("added", added)
            .strings("removed", removed),
        CustomerEvent::CustomerSegmentRecalculated(recalculated) => {
            let SegmentRecalculated {
                checkout_event_id,
                checkout_log_order,
                checked_out_at,
                rule,
                spend,
                checkouts_counted,
                checkouts_uncounted,
                verdict,
                segments,
                added,
                removed,
            } = recalculated;
            head.uuid("checkoutEventId", checkout_event_id)
                .string("checkoutPosition", checkout_log_order.to_string())
                .timestamp("checkedOutAt", checked_out_at)
                .string("segment", rule.segment)
                .money("threshold", rule.threshold)
                .int("windowDays", clamp_int(rule.window_days))
                .money("spend", spend)
                .int("checkoutsCounted", clamp_int(checkouts_counted))
                .int("checkoutsUncounted", clamp_int(checkouts_uncounted))
                .symbol(
                    "verdict",
                    match verdict {
                        Verdict::Member => "MEMBER",
                        Verdict::NotMember => "NOT_MEMBER",
                        Verdict::Undecided => "UNDECIDED",
                    },
                )
                .strings("segments", segments)
                .strings("added", added)
                .strings("removed", removed)
        }
    }
    .build())
}

/// A count as an Avro `int` (the domain's limits keep them far below).
fn clamp_int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn address_record(address: Address) -> Value {
    let Address {
        line1,
        line2,
        city,
        region,
        postal_code,
        country,
        label,
    } = address;
    Record::new()
        .string("label", label)
        .string("line1", line1)
        .string("line2", line2)
        .string("city", city)
        .string("region", region)
        .string("postalCode", postal_code)
        .string("country", country)
        .build()
}
