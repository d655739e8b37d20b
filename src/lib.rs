//! gardefou: an operator safety shell for production Linux hosts.
//!
//! The pipeline reads left to right: `intent` (pure parsing) → `facts` (the only I/O before
//! acting) → `policy::eval` (pure verdict) → `act` (confirm, exec or refuse) → `audit`.
#![forbid(unsafe_code)]

pub mod error;
pub mod facts;
pub mod intent;
pub mod policy;

pub use error::Error;
