//! Per-line check time of the guarded shell: a typed line parsed, probed (filesystem facts) and
//! evaluated against the shipped policy, in process, as `gardefou shell` does before running
//! it. `cargo bench --bench line_check` prints the mean per line; results in BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use gardefou::intent::line::{Shell, parse_line};
use gardefou::policy::eval::evaluate;
use gardefou::policy::load::{Source, load};

fn main() {
    let policy = load(&[Source::File(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/debian.toml"),
    )])
    .expect("the shipped policy loads");
    let env = policy
        .environment("bench-host", Some("production"))
        .expect("production exists");
    let lines = [
        "ls -la /var/log | grep -v old",
        "cd /srv/app && git pull && systemctl restart app",
        "rm -rf /tmp/build-cache",
        "rm -rf /var/lib/postgresql",
        "for f in *.log; do gzip \"$f\"; done",
        "psql -d shop -c 'SELECT count(*) FROM orders'",
        "redis-cli -n 2 get session:42",
    ];
    let runs = 2000;
    let mut total = 0.0;
    for line in lines {
        let start = Instant::now();
        for _ in 0..runs {
            let mut shell = Shell::from_process();
            let intents = parse_line(line.as_bytes(), &mut shell).expect("parses");
            let probed = gardefou::act::guard::probe_all(&intents, &policy, None);
            black_box(evaluate(&probed, &policy, &env, None));
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / runs as f64;
        total += per;
        println!("{per:9.1} µs  {line}");
    }
    println!(
        "{:9.1} µs  mean per line ({} lines; target < 1000 µs)",
        total / lines.len() as f64,
        lines.len()
    );
}
