//! Encryption at rest and token hashing.
