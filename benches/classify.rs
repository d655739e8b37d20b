//! Classification time of psql's SQL, in process: the two 10,000-statement scripts of
//! `benches/db.sh` (everyday statements with one DROP; every statement a WITH or an ALTER
//! TABLE) and one short statement as the wire guard classifies it (pgbench's SELECT).
//! `cargo bench --bench classify` prints the time per script and per statement; results in
//! BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use gardefou::intent::sql::classify;

fn mixed() -> String {
    let mut s = String::from("BEGIN;\n");
    for i in 0..10_000 - 3 {
        s.push_str(&match i % 4 {
            0 => format!("INSERT INTO orders VALUES ({i}, 'n{i}');\n"),
            1 => format!("UPDATE orders SET note = 'x' WHERE id = {i};\n"),
            2 => format!("DELETE FROM orders WHERE id = {i} AND note <> $$a;b$$;\n"),
            _ => format!(
                "SELECT count(*) FROM orders o JOIN big b ON b.id = o.id WHERE o.id > {i};\n"
            ),
        });
    }
    s.push_str("DROP TABLE orders;\nCOMMIT;\n");
    s
}

fn parsed() -> String {
    let mut s = String::new();
    for i in 0..10_000 - 1 {
        s.push_str(&if i % 2 == 1 {
            format!("WITH w AS (SELECT id FROM orders WHERE id > {i}) SELECT count(*) FROM w;\n")
        } else {
            format!("ALTER TABLE orders ADD COLUMN c{i} int;\n")
        });
    }
    s.push_str("DROP TABLE orders;\n");
    s
}

/// The median of `runs` timings of `f`, in seconds.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn main() {
    for (what, script) in [
        ("INSERT/UPDATE/DELETE/SELECT, one DROP", mixed()),
        ("WITH…/ALTER TABLE…", parsed()),
    ] {
        let n = script.lines().count();
        let t = median(21, || {
            black_box(classify(black_box(&script), "bench"));
        });
        println!(
            "{:8.1} ms  {:6.2} µs per statement  {n} statements ({what})",
            t * 1e3,
            t * 1e6 / n as f64
        );
    }
    let one = "SELECT abalance FROM pgbench_accounts WHERE aid = 42;";
    let calls = 20_000;
    let t = median(5, || {
        for _ in 0..calls {
            black_box(classify(black_box(one), "the statement"));
        }
    });
    println!("{:8.1} µs  one statement ({one})", t * 1e6 / calls as f64);
}
