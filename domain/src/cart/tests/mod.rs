//! cart tests
