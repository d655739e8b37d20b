//! Link the gardefou executable as a position-dependent (non-PIE) binary: every guarded `rm`
//! starts it, and a PIE pays at each start for ~42,000 relative relocations and the
//! copy-on-write faults of the ~700 KB of tables they rewrite (BENCHMARKS.md, shim start-up).
//! `GARDEFOU_BUILD_PIE=1` builds the PIE instead, to measure the difference.
fn main() {
    println!("cargo:rerun-if-env-changed=GARDEFOU_BUILD_PIE");
    if std::env::var_os("GARDEFOU_BUILD_PIE").is_none() {
        println!("cargo:rustc-link-arg-bin=gardefou=-no-pie");
    }
}
