pub mod list;
pub mod stream;
