//! Packed list storage for list values (placeholder; see the list family).
