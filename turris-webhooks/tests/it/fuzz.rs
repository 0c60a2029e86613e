//! Property-based fuzzing on stable Rust: hostile input never panics, signatures round-trip,
//! and the URL guard never accepts a non-public address in any notation.
//!
//! The case count is `TURRIS_FUZZ_CASES` (default 256, so `cargo test` stays fast). A long run:
//! `TURRIS_FUZZ_CASES=1000000 cargo test --release -p turris-webhooks --test it fuzz`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use axum::extract::FromRequest;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use turris_webhooks::delivery::parse_retry_after;
use turris_webhooks::{
    Envelope, SignedHeaders, UrlError, UrlPolicy, VerifiedTurrisWebhook, Verifier, VerifyError,
    WebhookSecret, WebhookType, WebhookUrl, non_public_reason, sign,
};

fn config() -> ProptestConfig {
    let cases = std::env::var("TURRIS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn secret() -> impl Strategy<Value = WebhookSecret> {
    any::<[u8; 32]>().prop_map(WebhookSecret::from_bytes)
}

/// Any instant chrono can represent, as a `DateTime`.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0i64..4_000_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
    ]
}

/// Header-ish text: digits, hex, signs, odd bytes, very long, empty.
fn header_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9]{0,25}".prop_map(String::into_bytes),
        "-?[0-9]{1,20}".prop_map(String::into_bytes),
        "[0-9a-fA-F]{60,68}".prop_map(String::into_bytes),
        "v1,[A-Za-z0-9+/=]{0,50}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..100),
        any::<String>().prop_map(String::into_bytes),
    ]
}

fn tolerance() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0u64..=u64::MAX).prop_map(Duration::from_secs),
    ]
}

const NAMES: [&str; 6] = [
    "x-turris-signature",
    "x-turris-timestamp",
    "x-turris-event-id",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// A header map with any of the signature headers, each with arbitrary bytes (those that
/// `HeaderValue` refuses are left out, as a server would never see them).
fn header_map() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((prop::sample::select(NAMES.to_vec()), header_text()), 0..8).prop_map(
        |pairs| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                if let Ok(value) = HeaderValue::from_bytes(&value) {
                    map.append(HeaderName::from_static(name), value);
                }
            }
            map
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_verifier_never_panics_on_arbitrary_input(
        secrets in prop::collection::vec(secret(), 0..3),
        headers in header_map(),
        signature in any::<String>(),
        timestamp in prop_oneof!["[0-9]{0,20}", any::<String>()],
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in instant(),
        tolerance in tolerance(),
    ) {
        let verifier = Verifier::new(secrets).with_tolerance(tolerance);
        let _ = verifier.verify(&headers, &body, now);
        let _ = verifier.verify_ignoring_timestamp(&headers, &body);
        let _ = verifier.verify_parts(&signature, &timestamp, &body, now);
        let _ = verifier.verify_parts_ignoring_timestamp(&signature, &timestamp, &body);
    }

    #[test]
    fn fuzz_sign_then_verify_accepts_and_any_body_byte_flip_rejects(
        secret in secret(),
        timestamp in 0i64..=999_999_999_999,
        body in prop::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        event_id in "[A-Za-z0-9_-]{1,40}",
    ) {
        let signed = SignedHeaders::new(&secret, &event_id, timestamp, &body);
        let headers = signed.to_header_map();
        let now = DateTime::from_timestamp(timestamp, 0).unwrap();
        let verifier = Verifier::new([secret.clone()]);
        prop_assert_eq!(verifier.verify(&headers, &body, now), Ok(()));
        prop_assert_eq!(verifier.verify_ignoring_timestamp(&headers, &body), Ok(()));
        prop_assert_eq!(sign(&secret, timestamp, &body), signed.signature);

        let mut mutated = body.clone();
        mutated[index.index(body.len())] ^= flip;
        prop_assert_eq!(verifier.verify(&headers, &mutated, now), Err(VerifyError::Mismatch));

        // The Standard Webhooks signature agrees with an independent implementation.
        let standard = standardwebhooks::Webhook::new(&secret.to_standard_webhooks()).unwrap();
        // Its own verify checks the system clock, so the signatures are compared instead.
        // (It signs UTF-8 bodies only.)
        if let Ok(expected) = standard.sign(&event_id, timestamp, &body) {
            prop_assert_eq!(expected, signed.standard_signature);
        }
    }

    #[test]
    fn fuzz_secret_parsing_retry_after_and_envelopes_never_panic(
        text in any::<String>(),
        hexish in "[0-9a-fA-F]{0,70}",
        retry in prop_oneof!["[0-9]{0,25}", "-?[0-9]{1,5}", any::<String>(),
            "(Mon|Tue|Wed), [0-9]{1,2} (Jan|Oct|Dec) [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+[0-9]{4}|-[0-9]{4})"],
        now in instant(),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let _ = WebhookSecret::parse(&text);
        let _ = WebhookSecret::parse(&hexish);
        let _ = parse_retry_after(&retry, now);
        let _ = parse_retry_after(&text, now);
        let _ = serde_json::from_slice::<Envelope>(&bytes);
        let _ = serde_json::from_str::<Envelope>(&text);
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(&bytes) {
            let _ = envelope.typed();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The axum extractor, through the real `FromRequest`.

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn extract(
    rt: &tokio::runtime::Runtime,
    verifier: &Verifier,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<VerifiedTurrisWebhook, turris_webhooks::WebhookRejection> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/hook")
        .body(axum::body::Body::from(body))
        .unwrap();
    *request.headers_mut() = headers;
    rt.block_on(VerifiedTurrisWebhook::<serde_json::Value>::from_request(
        request, verifier,
    ))
}

fn envelope_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        ("[a-z0-9_]{0,12}", any::<i64>()).prop_map(|(org, n)| {
            Envelope::new(
                org,
                WebhookType::ProducerAgreementExecuted,
                serde_json::json!({"n": n}),
            )
            .to_bytes()
            .unwrap()
            .to_vec()
        }),
        prop::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
        Just(br#"{"webhookType":"nope","upstreamEntityId":1,"payload":null}"#.to_vec()),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_axum_extractor_never_panics_and_answers_400_or_401(
        secret in secret(),
        mut headers in header_map(),
        extra in prop::collection::vec(("[a-z-]{1,20}", header_text()), 0..4),
        body in envelope_body(),
        sign_it in any::<bool>(),
        flip in prop::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        thread_local!(static RT: tokio::runtime::Runtime = runtime());
        for (name, value) in extra {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value)) {
                headers.append(name, value);
            }
        }
        let verifier = Verifier::new([secret.clone()]);
        let mut sent = body.clone();
        if sign_it {
            let signed = SignedHeaders::new(&secret, "evt_1", Utc::now().timestamp(), &body);
            for (name, value) in signed.to_header_map() {
                if let Some(name) = name {
                    headers.insert(name, value);
                }
            }
            if let (Some((index, by)), false) = (flip, body.is_empty()) {
                sent[index.index(body.len())] ^= by;
            }
        }
        let result = RT.with(|rt| extract(rt, &verifier, headers, sent.clone()));
        match result {
            Ok(webhook) => {
                // Accepted only when signed with our secret and unchanged.
                prop_assert!(sign_it);
                prop_assert_eq!(&sent, &body);
                prop_assert_eq!(webhook.event_id.as_deref(), Some("evt_1"));
            }
            Err(rejection) => {
                let status = rejection.status().as_u16();
                prop_assert!(status == 400 || status == 401, "{}", status);
                if sign_it && sent == body {
                    // A genuine request is refused only for its body.
                    prop_assert_eq!(status, 400, "{}", rejection);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The URL guard.

/// Non-public IPv4 networks, every kind the guard refuses, metadata addresses included.
const V4_NETS: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
    ([169, 254, 169, 254], 32),
    ([100, 100, 100, 200], 32),
];

fn private_v4() -> impl Strategy<Value = Ipv4Addr> {
    (prop::sample::select(V4_NETS.to_vec()), any::<u32>()).prop_map(|((net, prefix), bits)| {
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Ipv4Addr::from((u32::from(Ipv4Addr::from(net)) & mask) | (bits & !mask))
    })
}

/// One octet in decimal, octal or hex (any case, any zero padding).
fn octet(n: u32, style: u8) -> String {
    match style % 5 {
        0 => n.to_string(),
        1 => format!("0{n:o}"),
        2 => format!("0x{n:x}"),
        3 => format!("0X{n:X}"),
        _ => format!("0x{n:08x}"),
    }
}

/// The address in one of the many notations a WHATWG URL parser reads as IPv4.
fn v4_notation(ip: Ipv4Addr, style: u8, styles: [u8; 4]) -> String {
    let [a, b, c, d] = ip.octets().map(u32::from);
    let n = u32::from(ip);
    match style % 9 {
        0 => format!("{a}.{b}.{c}.{d}"),
        1 => octet(n, styles[0]),
        2 => format!(
            "{}.{}",
            octet(a, styles[0]),
            octet(n & 0xff_ffff, styles[1])
        ),
        3 => format!(
            "{}.{}.{}",
            octet(a, styles[0]),
            octet(b, styles[1]),
            octet(n & 0xffff, styles[2])
        ),
        4 => format!(
            "{}.{}.{}.{}",
            octet(a, styles[0]),
            octet(b, styles[1]),
            octet(c, styles[2]),
            octet(d, styles[3])
        ),
        5 => format!("{a}.{b}.{c}.{d}."),
        // Percent-encoded host.
        6 => format!("{a}.{b}.{c}.{d}")
            .bytes()
            .map(|byte| format!("%{byte:02X}"))
            .collect(),
        // Fullwidth digits and ideographic full stops, which IDNA maps to ASCII.
        7 => format!("{a}.{b}.{c}.{d}")
            .chars()
            .map(|ch| match ch {
                '0'..='9' => char::from_u32(0xFF10 + (ch as u32 - '0' as u32)).unwrap(),
                _ => '\u{3002}',
            })
            .collect(),
        _ => format!("{a}.{b}.{c}.{d}").to_uppercase(),
    }
}

/// The address as an IPv6 literal that stands for it.
fn v6_notation(ip: Ipv4Addr, style: u8) -> String {
    let [a, b, c, d] = ip.octets();
    let hi = u16::from_be_bytes([a, b]);
    let lo = u16::from_be_bytes([c, d]);
    match style % 6 {
        0 => format!("[::ffff:{ip}]"),
        1 => format!("[::ffff:{hi:x}:{lo:x}]"),
        2 => format!("[0:0:0:0:0:FFFF:{hi:X}:{lo:X}]"),
        3 => format!("[0000:0000:0000:0000:0000:ffff:{ip}]"),
        4 => format!("[64:ff9b::{ip}]"),
        _ => format!("[::{ip}]"),
    }
}

/// Non-public IPv6 addresses written as IPv6.
fn private_v6() -> impl Strategy<Value = String> {
    let nets: Vec<(u128, u32)> = vec![
        (0, 128),
        (1, 128),
        (0xfc00 << 112, 7),
        (0xfe80 << 112, 10),
        (0xfec0 << 112, 10),
        (0xff00 << 112, 8),
        (0x2001_0db8 << 96, 32),
        (0x2002 << 112, 16),
        (0x0100 << 112, 64),
        (0x0064_ff9b_0001 << 80, 48),
        (0x4000 << 112, 2),
    ];
    (prop::sample::select(nets), any::<u128>(), any::<bool>()).prop_map(
        |((net, prefix), bits, expanded)| {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            let ip = Ipv6Addr::from((net & mask) | (bits & !mask));
            if expanded {
                let s = ip.segments();
                format!(
                    "[{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04X}]",
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
                )
            } else {
                format!("[{ip}]")
            }
        },
    )
}

fn wrap(host: &str, port: Option<u16>, path: &str, scheme: &str) -> String {
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}{path}")
}

/// Whether an accepted URL is one the strict policy may accept.
fn acceptable(url: &WebhookUrl) -> bool {
    let parsed = url.as_url();
    parsed.scheme() == "https"
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && url
            .ip_host()
            .is_none_or(|ip| non_public_reason(ip).is_none())
        && parsed.host_str().is_some_and(|h| {
            !h.trim_end_matches('.').eq_ignore_ascii_case("localhost")
                && !h
                    .trim_end_matches('.')
                    .to_ascii_lowercase()
                    .ends_with(".localhost")
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_url_guard_refuses_non_public_ipv4_in_any_notation(
        ip in private_v4(),
        style in any::<u8>(),
        styles in any::<[u8; 4]>(),
        v6 in any::<bool>(),
        port in prop::option::of(any::<u16>()),
        path in prop_oneof![Just(String::new()), Just("/".to_owned()), "/[a-z%0-9?#=&]{0,20}"],
    ) {
        let host = if v6 { v6_notation(ip, style) } else { v4_notation(ip, style, styles) };
        let input = wrap(&host, port, &path, "https");
        match WebhookUrl::parse(&input, &UrlPolicy::strict()) {
            Err(UrlError::ForbiddenAddress { reason, .. }) => {
                // The message names the kind, never the address.
                let message = UrlError::ForbiddenAddress { ip: IpAddr::V4(ip), reason }.to_string();
                prop_assert!(!message.contains(&ip.to_string()), "{}", message);
            }
            Err(UrlError::Invalid(_)) => {} // Not a URL at all: refused too.
            Err(other) => prop_assert!(false, "{}: unexpected {:?}", input, other),
            Ok(url) => prop_assert!(false, "{} was accepted as {}", input, url),
        }
    }

    #[test]
    fn fuzz_url_guard_refuses_non_public_ipv6(
        host in private_v6(),
        port in prop::option::of(any::<u16>()),
    ) {
        let input = wrap(&host, port, "/hook", "https");
        let result = WebhookUrl::parse(&input, &UrlPolicy::strict());
        prop_assert!(result.is_err(), "{} was accepted", input);
    }

    #[test]
    fn fuzz_url_guard_never_panics_and_accepts_only_public_https(
        input in prop_oneof![
            any::<String>(),
            "(https?|ftp|file|HTTPS)://[a-zA-Z0-9.:@%\\[\\]_~-]{0,40}(/[ -~]{0,20})?",
            "https://[0-9a-fA-F:.%]{0,45}\\]?(:[0-9]{0,6})?/?",
            "https://([a-z0-9-]{0,10}:[a-z0-9]{0,10}@)?[0-9a-fxX.]{1,30}(:[0-9]{1,6})?/",
            "https://[\\PC]{1,20}/",
            "https://xn--[a-z0-9-]{0,20}(\\.[a-z]{2,5})?/",
        ],
        loopback in any::<bool>(),
    ) {
        let strict = UrlPolicy::strict();
        if let Ok(url) = WebhookUrl::parse(&input, &strict) {
            prop_assert!(acceptable(&url), "{} was accepted as {}", input, url);
            // Parsing what it prints gives the same URL.
            prop_assert_eq!(WebhookUrl::parse(url.as_str(), &strict), Ok(url.clone()));
        }
        if loopback {
            let demo = UrlPolicy::strict().with_insecure_loopback();
            if let Ok(url) = WebhookUrl::parse(&input, &demo) {
                let ok = url.ip_host().is_none_or(|ip| {
                    non_public_reason(ip).is_none() || non_public_reason(ip) == Some("loopback")
                });
                prop_assert!(ok, "{} was accepted as {}", input, url);
            }
        }
    }
}
