//! Facts: the only I/O before acting. What a command would really touch on this system.

pub mod apt;
pub mod db;
pub mod fs;
