//! Stream storage (placeholder; see the stream family).
