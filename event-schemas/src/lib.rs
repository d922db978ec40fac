//! Avro schemas of Shopcore's events (the wire types) and their conversions from domain events.
