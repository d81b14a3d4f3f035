pub mod config;
pub mod pubsub;
pub mod store;
