//! Two link choices made for start-up time (every guarded `rm` starts one of these binaries;
//! BENCHMARKS.md, shim start-up), and one fingerprint:
//!
//! - `gardefou` is linked position-dependent (non-PIE): a PIE pays at each start for ~42,000
//!   relative relocations and the copy-on-write faults of the tables they rewrite.
//!   `GARDEFOU_BUILD_PIE=1` builds the PIE instead, to measure the difference.
//! - `gardefou-shim`, the rm shim's hot path, is linked statically (no dynamic loader, no shared
//!   library to map and bind: ~0.4 ms here). Rust's `crt-static` is a whole-build setting, and a
//!   static glibc binary cannot load NSS modules, which the full binary needs (`~user`, users
//!   from sssd/LDAP): so only this binary is static. rustc links the C libraries by name
//!   (`-lc -lgcc_s …`) after `-Bdynamic`; a search directory of its own, holding only their
//!   static archives (`libgcc_s.a` being `libgcc_eh.a`), makes the linker find those first.
//!   When an archive is missing (no libc6-dev), the binary stays dynamic and a warning says so:
//!   it still works, it starts slower.
//! - `GARDEFOU_BUILD_ID`: a fingerprint of the sources and the lock file, so that the two
//!   binaries of one build can share the parsed-policy cache and binaries of different builds
//!   never read each other's (the cached layout may differ).
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GARDEFOU_BUILD_PIE");
    println!("cargo:rerun-if-env-changed=GARDEFOU_BUILD_DYNAMIC_RM");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    if std::env::var_os("GARDEFOU_BUILD_PIE").is_none() {
        println!("cargo:rustc-link-arg-bin=gardefou=-no-pie");
    }
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu && std::env::var_os("GARDEFOU_BUILD_DYNAMIC_RM").is_none() {
        match static_libs() {
            Ok(dir) => {
                println!("cargo:rustc-link-arg-bin=gardefou-shim=-L{}", dir.display());
                println!("cargo:rustc-link-arg-bin=gardefou-shim=-static");
                println!("cargo:rustc-link-arg-bin=gardefou-shim=-no-pie");
            }
            Err(why) => println!(
                "cargo:warning=gardefou-shim is linked dynamically ({why}): it works, and starts slower"
            ),
        }
    }
    let mut hasher = std::hash::DefaultHasher::new();
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut files = vec![root.join("Cargo.lock"), root.join("build.rs")];
    sources(&root.join("src"), &mut files);
    files.sort();
    for f in &files {
        f.strip_prefix(&root).unwrap_or(f).hash(&mut hasher);
        std::fs::read(f).unwrap_or_default().hash(&mut hasher);
    }
    println!("cargo:rustc-env=GARDEFOU_BUILD_ID={:016x}", hasher.finish());
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs" || x == "toml") {
            out.push(p);
        }
    }
}

/// A directory in OUT_DIR with the static archive of every C library rustc names for a std
/// binary on linux-gnu, as the C compiler finds them.
fn static_libs() -> Result<PathBuf, String> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("no OUT_DIR")?).join("static-libs");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let wanted = [
        ("libc.a", "libc.a"),
        ("libm.a", "libm.a"),
        ("libpthread.a", "libpthread.a"),
        ("libdl.a", "libdl.a"),
        ("librt.a", "librt.a"),
        ("libutil.a", "libutil.a"),
        ("libgcc_s.a", "libgcc_eh.a"),
    ];
    for (name, archive) in wanted {
        let found = Command::new(&cc)
            .arg(format!("-print-file-name={archive}"))
            .output()
            .map_err(|e| format!("{cc}: {e}"))?;
        let path = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
        if !path.is_absolute() || !path.exists() {
            return Err(format!("{archive} not found by {cc}"));
        }
        std::os::unix::fs::symlink(&path, out.join(name)).map_err(|e| e.to_string())?;
    }
    Ok(out)
}
