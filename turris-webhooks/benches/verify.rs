//! `Verifier::verify` beside a bare HMAC-SHA256 of the same bytes and the `standardwebhooks`
//! crate's verify, at 256 B, 1 KiB and 16 KiB bodies.
//!
//! Run with `cargo bench -p turris-webhooks --bench verify`.
//!
//! After criterion's figures, an interleaved A/B pass prints the ratios again: it alternates
//! the implementations in short rounds and takes medians, so load from other processes on a
//! shared machine falls on all of them alike.

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use turris_webhooks::{SignedHeaders, Verifier, WebhookSecret};

const SIZES: [usize; 3] = [256, 1024, 16 * 1024];

/// A JSON-looking ASCII body of exactly `len` bytes.
fn body(len: usize) -> Vec<u8> {
    let mut body = br#"{"webhookType":"agency_compliance_status_changes","upstreamEntityId":"org_1","payload":{"x":""#.to_vec();
    while body.len() + 3 < len {
        body.push(b'a' + (body.len() % 26) as u8);
    }
    body.extend_from_slice(b"\"}}");
    body.truncate(len);
    body
}

fn verify(c: &mut Criterion) {
    let secret =
        WebhookSecret::parse("4f2b9c0e7d1a6b3e8f5c2d9a0b7e4f1c6d3a8b5e2f9c0d7a4b1e8f5c2d9a6b3e")
            .unwrap();
    let verifier = Verifier::new([secret.clone()]);
    let standard = standardwebhooks::Webhook::new(&secret.to_standard_webhooks()).unwrap();
    let mut group = c.benchmark_group("verify");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    for size in SIZES {
        let body = body(size);
        assert_eq!(body.len(), size);
        let now = Utc::now();
        let timestamp = now.timestamp();
        let headers = SignedHeaders::new(
            &secret,
            "01939f3e-0000-7000-8000-00000000abcd",
            timestamp,
            &body,
        )
        .to_header_map();
        verifier
            .verify(&headers, &body, now)
            .expect("turris verifies");
        standard
            .verify(&body, &headers)
            .expect("standardwebhooks verifies");
        let ts = timestamp.to_string();
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_with_input(BenchmarkId::new("turris", size), &body, |b, body| {
            b.iter(|| {
                verifier
                    .verify(black_box(&headers), black_box(body), now)
                    .unwrap()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("bare_hmac_sha256", size),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut mac =
                        <Hmac<Sha256> as Mac>::new_from_slice(black_box(secret.as_bytes()))
                            .unwrap();
                    mac.update(ts.as_bytes());
                    mac.update(b".");
                    mac.update(black_box(body));
                    black_box(mac.finalize().into_bytes())
                })
            },
        );
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        group.bench_with_input(
            BenchmarkId::new("bare_hmac_sha256_prekeyed", size),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut mac = black_box(&keyed).clone();
                    mac.update(ts.as_bytes());
                    mac.update(b".");
                    mac.update(black_box(body));
                    black_box(mac.finalize().into_bytes())
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| {
                b.iter(|| {
                    standard
                        .verify(black_box(body), black_box(&headers))
                        .unwrap()
                })
            },
        );
    }
    group.finish();
}

/// Alternates the implementations in short rounds and prints median ns/op and ratios.
fn interleaved() {
    let secret =
        WebhookSecret::parse("4f2b9c0e7d1a6b3e8f5c2d9a0b7e4f1c6d3a8b5e2f9c0d7a4b1e8f5c2d9a6b3e")
            .unwrap();
    let verifier = Verifier::new([secret.clone()]);
    let standard = standardwebhooks::Webhook::new(&secret.to_standard_webhooks()).unwrap();
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    println!("\ninterleaved A/B (median of 200 rounds, ns/op):");
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>12} {:>16} {:>12}",
        "body",
        "turris",
        "bare",
        "prekeyed",
        "stdwh",
        "turris/bare",
        "turris/prekeyed",
        "stdwh/turris"
    );
    for size in SIZES {
        let body = body(size);
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let headers = SignedHeaders::new(&secret, "evt", now.timestamp(), &body).to_header_map();
        let n = u32::try_from((1 << 20) / size).unwrap_or(1).clamp(16, 4096);
        let mut rounds: [Vec<f64>; 4] = Default::default();
        let mut time = |i: usize, f: &mut dyn FnMut()| {
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            rounds[i].push(start.elapsed().as_nanos() as f64 / f64::from(n));
        };
        for _ in 0..200 {
            time(0, &mut || {
                verifier
                    .verify(black_box(&headers), black_box(&body), now)
                    .unwrap()
            });
            time(1, &mut || {
                let mut mac =
                    <Hmac<Sha256> as Mac>::new_from_slice(black_box(secret.as_bytes())).unwrap();
                mac.update(ts.as_bytes());
                mac.update(b".");
                mac.update(black_box(&body));
                black_box(mac.finalize().into_bytes());
            });
            time(2, &mut || {
                let mut mac = black_box(&keyed).clone();
                mac.update(ts.as_bytes());
                mac.update(b".");
                mac.update(black_box(&body));
                black_box(mac.finalize().into_bytes());
            });
            time(3, &mut || {
                standard
                    .verify(black_box(&body), black_box(&headers))
                    .unwrap()
            });
        }
        let [turris, bare, prekeyed, stdwh] = rounds.map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        });
        println!(
            "{size:>7} {turris:>9.0} {bare:>9.0} {prekeyed:>9.0} {stdwh:>9.0} {:>12.2} {:>16.2} {:>12.2}",
            turris / bare,
            turris / prekeyed,
            stdwh / turris
        );
    }
}

criterion_group!(benches, verify);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        interleaved();
    }
}
