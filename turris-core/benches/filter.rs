//! Filter evaluation on a 50-property company, beside a bare `HashMap` lookup plus string
//! comparison in the same group, so the ratio holds even on a busy machine.
//!
//! Run: `cargo bench -p turris-core --bench filter`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use turris_core::{Condition, IdentifierFilter, PropertyMap};

const TARGET: &str = "prop_37";

fn pairs() -> Vec<(String, Option<String>)> {
    (0..50)
        .map(|i| {
            let name = format!("prop_{i:02}");
            let value = match i {
                37 => Some("Agency".to_owned()),
                38 => Some("1250.75".to_owned()),
                i if i % 7 == 0 => None,
                i => Some(format!("value number {i} of a HubSpot company")),
            };
            (name, value)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let raw: HashMap<String, Option<String>> = pairs().into_iter().collect();
    let map: PropertyMap = pairs().into_iter().collect();
    let equals = IdentifierFilter::ApplyFilter(Condition::equals(TARGET, "Agency"));
    let is_one_of = IdentifierFilter::ApplyFilter(Condition::is_one_of(
        TARGET,
        ["MGA", "Wholesaler", "Agency"],
    ));
    let contains = IdentifierFilter::ApplyFilter(Condition::contains(TARGET, "gen"));
    let is_a_number = IdentifierFilter::ApplyFilter(Condition::is_a_number("prop_38"));
    assert!(
        equals.evaluate(&map)
            && is_one_of.evaluate(&map)
            && contains.evaluate(&map)
            && is_a_number.evaluate(&map)
    );

    let baseline =
        || raw.get(black_box(TARGET)).and_then(|v| v.as_deref()) == Some(black_box("Agency"));
    let mut group = c.benchmark_group("filter_50_properties");
    // Short, adjacent measurements: the machine is shared, so the baseline is measured right
    // before `equals` and again at the end, and the ratio is read between neighbours.
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("baseline_hashmap_lookup_and_compare", |b| b.iter(baseline));
    group.bench_function("equals", |b| {
        b.iter(|| black_box(&equals).evaluate(black_box(&map)))
    });
    group.bench_function("is_one_of_3", |b| {
        b.iter(|| black_box(&is_one_of).evaluate(black_box(&map)))
    });
    group.bench_function("contains", |b| {
        b.iter(|| black_box(&contains).evaluate(black_box(&map)))
    });
    group.bench_function("is_a_number", |b| {
        b.iter(|| black_box(&is_a_number).evaluate(black_box(&map)))
    });
    group.bench_function("baseline_again", |b| b.iter(baseline));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
