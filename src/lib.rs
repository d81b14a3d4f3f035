pub mod pubsub;
pub mod store;
