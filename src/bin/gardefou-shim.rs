//! The shims' hot path: what `rm` and `psql` on PATH start after `gardefou install`. The same
//! pipeline as the full binary (`gardefou::act::guard::rm_hot`, `gardefou::act::sql::psql_hot`),
//! linked statically (build.rs) so that an allowed `rm`, or a `psql -c` that only reads, pays no
//! dynamic loader; every other case is handed to the full `gardefou` beside it.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code))]

#[path = "../start.rs"]
#[macro_use]
mod start;

c_main!(run);

fn run() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let name = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name());
    let code = match name.and_then(|n| n.to_str()) {
        Some("psql") => gardefou::act::sql::psql_hot(&argv),
        // rm, and this executable under any other name (it is never anything else).
        _ => gardefou::act::guard::rm_hot(&argv),
    };
    std::process::exit(code);
}
