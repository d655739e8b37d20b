//! Acting on a verdict: confirmation, execution of the real binary, refusal, audit.
//!
//! `policy` and `intent` decide; this module only carries the decision out.

pub mod apt;
pub mod confirm;
pub mod exec;
pub mod guard;
pub mod host;
pub mod maintenance;
pub mod netted;
pub mod run;
pub mod save;
pub mod sql;
