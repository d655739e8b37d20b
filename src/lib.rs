//! gardefou: an operator safety shell for production Linux hosts.
//!
//! The pipeline reads left to right: `intent` (pure parsing) → `facts` (the only I/O before
//! acting) → `policy::eval` (pure verdict) → `act` (confirm, exec or refuse) → `audit`.
#![forbid(unsafe_code)]

pub mod act;
pub mod approve;
pub mod apt_hook;
pub mod audit;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod error;
pub mod facts;
pub mod hook;
pub mod install;
pub mod intent;
pub mod net;
pub mod notify;
pub mod outcome;
pub mod pipeline;
pub mod policy;
pub mod preflight;
pub mod proxy;
pub mod render;
pub mod shell;
pub mod snapshot;

pub use error::Error;
