//! Rule evaluation speed: a 100-rule config, leads that match early, late, and only the
//! catch-all. Pure domain code, no storage.

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, Criterion};
use leadrouter::domain::config::RoutingConfig;
use leadrouter::domain::lead::Lead;
use leadrouter::domain::routing;

/// 99 realistic rules (territories, size bands, industries, products, postal ranges) and a
/// catch-all.
fn hundred_rules() -> String {
    let mut doc = String::from("reps:\n");
    for r in 0..20 {
        writeln!(doc, "  - {{id: rep{r}, name: Rep {r}}}").unwrap();
    }
    doc.push_str("pools:\n  - {id: pool, reps: [rep0, rep1, rep2, rep3]}\nrules:\n");
    let countries = ["US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "SE", "AU"];
    for i in 0..99 {
        let rep = i % 20;
        let when = match i % 5 {
            0 => format!(
                "{{country: {{in: [{}, {}]}}, employees: {{between: [{}, {}]}}}}",
                countries[i % 10],
                countries[(i + 3) % 10],
                i * 10,
                i * 10 + 9
            ),
            1 => format!("{{industry: {{in: [industry{i}, vertical{i}]}}}}"),
            2 => format!(
                "{{all: [{{product: product{i}}}, {{not: {{free_mail: true}}}}]}}"
            ),
            3 => format!(
                "{{postal_code: {{postal_range: [\"{:05}\", \"{:05}\"]}}}}",
                i * 1000,
                i * 1000 + 999
            ),
            _ => format!(
                "{{any: [{{email_domain: {{ends_with: .domain{i}.com}}}}, {{company: {{contains: company{i}}}}}]}}"
            ),
        };
        writeln!(
            doc,
            "  - {{id: rule{i}, when: {when}, route: {{rep: rep{rep}}}}}"
        )
        .unwrap();
    }
    doc.push_str("  - {id: default, route: {pool: pool}}\n");
    doc
}

fn lead(pairs: &[(&str, &str)]) -> Lead {
    Lead::parse(pairs.iter().copied()).unwrap()
}

fn bench(c: &mut Criterion) {
    let config = RoutingConfig::parse(&hundred_rules()).expect("valid config");
    let early = lead(&[
        ("email", "a@acme.com"),
        ("country", "US"),
        ("employees", "5"),
    ]);
    let late = lead(&[("email", "a@acme.com"), ("company", "Company94 Ltd")]);
    let none = lead(&[
        ("email", "a@acme.com"),
        ("country", "JP"),
        ("industry", "mining"),
    ]);
    let mut group = c.benchmark_group("decide_100_rules");
    group.bench_function("first_rule_matches", |b| {
        b.iter(|| routing::decide(&config, &early).index)
    });
    group.bench_function("rule_95_matches", |b| {
        b.iter(|| routing::decide(&config, &late).index)
    });
    group.bench_function("only_catch_all_matches", |b| {
        b.iter(|| routing::decide(&config, &none).index)
    });
    group.finish();
    c.bench_function("parse_lead_12_fields", |b| {
        b.iter(|| {
            lead(&[
                ("email", "Jane.Doe@Acme.com"),
                ("name", "Jane Doe"),
                ("company", "Acme"),
                ("company_size", "51-200"),
                ("country", "Deutschland"),
                ("state", "Bavaria"),
                ("zip", "80331"),
                ("industry", "Software"),
                ("product_interest", "Product A"),
                ("utm_source", "google"),
                ("utm_campaign", "q4"),
                ("plan", "pro"),
            ])
        })
    });
    c.bench_function("parse_config_100_rules", |b| {
        let text = hundred_rules();
        b.iter(|| RoutingConfig::parse(&text).unwrap().rules.len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
