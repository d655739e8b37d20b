//! The rm shim's hot path: what `rm` on PATH starts after `gardefou install`. The same
//! pipeline as the full binary (`gardefou::act::guard::rm_hot`), linked statically (build.rs)
//! so that an allowed `rm` pays no dynamic loader; every other case is handed to the full
//! `gardefou` beside it.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]

#[path = "../start.rs"]
#[macro_use]
mod start;

c_main!(run);

fn run() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(gardefou::act::guard::rm_hot(&argv));
}
