//! Property-based fuzzing on stable Rust: HubSpot's signatures (v1, v2, v3) and webhook
//! batches from arbitrary input never panic; signing then verifying accepts, and any single
//! byte flipped in the body is refused.
//!
//! The case count is `TURRIS_FUZZ_CASES` (default 256, so `cargo test` stays fast). A long run:
//! `TURRIS_FUZZ_CASES=1000000 cargo test --release -p turris-hubspot --test it fuzz`.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use serde_json::{Map, Value};
use turris_hubspot::HubSpotError;
use turris_hubspot::webhooks::signature::{
    MAX_AGE_MS, SIGNATURE_HEADER, SIGNATURE_V3_HEADER, SIGNATURE_VERSION_HEADER, SignatureError,
    SignatureVersion, SignedRequest, TIMESTAMP_HEADER, decode_uri, sign_v1, sign_v2, sign_v3,
    verify_any_version, verify_v1, verify_v2, verify_v3,
};
use turris_hubspot::webhooks::{SubscriptionType, parse_events};

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

/// Header-ish text: numbers at the ends of the range, base64, hex, odd bytes.
fn header_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "-?[0-9]{0,20}".prop_map(String::into_bytes),
        Just(i64::MIN.to_string().into_bytes()),
        Just(i64::MAX.to_string().into_bytes()),
        "[A-Za-z0-9+/=]{40,48}".prop_map(String::into_bytes),
        "[0-9a-fA-F]{60,68}".prop_map(String::into_bytes),
        "v[0-9]{1,2}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..80),
    ]
}

const NAMES: [&str; 4] = [
    SIGNATURE_V3_HEADER,
    TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_VERSION_HEADER,
];

fn header_map() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((prop::sample::select(NAMES.to_vec()), header_text()), 0..6).prop_map(
        |pairs| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                if let Ok(value) = HeaderValue::from_bytes(&value) {
                    map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
                }
            }
            map
        },
    )
}

fn uri() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://[a-z.]{1,20}/[a-zA-Z0-9/%?=&:@!$'()*,;]{0,40}",
        "[%0-9a-fA-FzZ]{0,20}",
        any::<String>(),
    ]
}

/// JSON shaped like a webhook batch: arrays of objects with HubSpot's field names holding
/// values of any type, nested.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(Value::from(-1)),
        "[a-z.]{0,24}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    const KEYS: [&str; 14] = [
        "eventId",
        "subscriptionId",
        "portalId",
        "appId",
        "occurredAt",
        "subscriptionType",
        "attemptNumber",
        "objectId",
        "propertyName",
        "propertyValue",
        "changeSource",
        "sourceId",
        "mergedObjectIds",
        "associationRemoved",
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                        "[a-zA-Z]{1,8}"
                    ],
                    inner
                ),
                0..10
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A well-formed event with arbitrary values in its fields.
fn event() -> impl Strategy<Value = Value> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<i64>(),
        prop_oneof![
            Just("contact.propertyChange".to_owned()),
            "[a-zA-Z.]{0,30}",
            any::<String>()
        ],
        prop::option::of(any::<u64>()),
        prop::option::of(any::<String>()),
        prop::option::of(prop_oneof!["INTEGRATION", "CRM_UI", any::<String>()]),
        prop::option::of(any::<String>()),
    )
        .prop_map(
            |(event_id, portal_id, occurred_at, kind, object_id, value, source, source_id)| {
                serde_json::json!({
                    "eventId": event_id, "portalId": portal_id, "occurredAt": occurred_at,
                    "subscriptionType": kind, "objectId": object_id, "propertyValue": value,
                    "changeSource": source, "sourceId": source_id,
                })
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_signature_checks_never_panic_on_arbitrary_input(
        secret in any::<String>(),
        method in prop_oneof![Just("POST".to_owned()), any::<String>()],
        uri in uri(),
        headers in header_map(),
        body in prop::collection::vec(any::<u8>(), 0..256),
        signature in any::<String>(),
        timestamp in prop_oneof!["-?[0-9]{0,20}", any::<String>()],
        now_ms in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), 0i64..4_000_000_000_000],
    ) {
        let _ = decode_uri(&uri);
        let _ = verify_any_version(&secret, &method, &uri, &headers, &body, now_ms);
        let request = SignedRequest { method: &method, uri: &uri, body: &body, signature: &signature, timestamp: &timestamp };
        let _ = verify_v3(&secret, &request, now_ms);
        let _ = verify_v2(&secret, &method, &uri, &body, &signature);
        let _ = verify_v1(&secret, &body, &signature);
    }

    #[test]
    fn fuzz_sign_then_verify_accepts_and_any_body_byte_flip_rejects(
        secret in any::<String>(),
        uri in uri(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        sent_at in any::<i64>(),
        skew in -MAX_AGE_MS..=MAX_AGE_MS,
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let now_ms = sent_at.saturating_add(skew);
        let timestamp = sent_at.to_string();
        let v3 = sign_v3(&secret, "POST", &uri, &body, &timestamp);
        let v2 = sign_v2(&secret, "POST", &uri, &body);
        let v1 = sign_v1(&secret, &body);
        let request = SignedRequest { method: "POST", uri: &uri, body: &body, signature: &v3, timestamp: &timestamp };
        prop_assert_eq!(verify_v3(&secret, &request, now_ms), Ok(()));
        prop_assert_eq!(verify_v2(&secret, "POST", &uri, &body, &v2), Ok(()));
        prop_assert_eq!(verify_v1(&secret, &body, &v1), Ok(()));

        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_V3_HEADER, HeaderValue::from_str(&v3).unwrap());
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(&timestamp).unwrap());
        prop_assert_eq!(verify_any_version(&secret, "POST", &uri, &headers, &body, now_ms), Ok(SignatureVersion::V3));

        let mut mutated = body.clone();
        mutated[index.index(body.len())] ^= flip;
        let request = SignedRequest { body: &mutated, ..request };
        prop_assert_eq!(verify_v3(&secret, &request, now_ms), Err(SignatureError::Mismatch));
        prop_assert_eq!(verify_v2(&secret, "POST", &uri, &mutated, &v2), Err(SignatureError::Mismatch));
        prop_assert_eq!(verify_v1(&secret, &mutated, &v1), Err(SignatureError::Mismatch));
        prop_assert_eq!(
            verify_any_version(&secret, "POST", &uri, &headers, &mutated, now_ms),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn fuzz_a_v3_request_outside_the_window_is_refused_whatever_the_clocks_say(
        sent_at in any::<i64>(),
        now_ms in any::<i64>(),
    ) {
        let timestamp = sent_at.to_string();
        let signature = sign_v3("s", "POST", "https://x.io/h", b"[]", &timestamp);
        let request = SignedRequest { method: "POST", uri: "https://x.io/h", body: b"[]", signature: &signature, timestamp: &timestamp };
        let expected = if i128::from(now_ms).abs_diff(i128::from(sent_at)) > MAX_AGE_MS as u128 {
            Err(SignatureError::Expired)
        } else {
            Ok(())
        };
        prop_assert_eq!(verify_v3("s", &request, now_ms), expected);
    }

    #[test]
    fn fuzz_event_batches_never_panic_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        text in any::<String>(),
    ) {
        let _ = parse_events(&bytes);
        let _ = parse_events(text.as_bytes());
        let _ = HubSpotError::from_response(400, &bytes);
    }

    #[test]
    fn fuzz_event_batches_never_panic_on_arbitrary_json(value in json_value(), app in any::<u64>()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let _ = HubSpotError::from_response(429, &bytes);
        if let Ok(events) = parse_events(&bytes) {
            for event in events {
                let _ = event.dedupe_key();
                let _ = event.is_echo_of_app(app);
                let _ = event.integration_app();
                let kind = &event.subscription_type;
                let _ = (kind.object_kind(), kind.action_kind(), kind.to_string());
            }
        }
    }

    #[test]
    fn fuzz_well_formed_events_parse_and_keep_their_type(
        events in prop::collection::vec(event(), 0..20),
        app in any::<u64>(),
    ) {
        let bytes = serde_json::to_vec(&events).unwrap();
        let parsed = parse_events(&bytes).unwrap();
        prop_assert_eq!(parsed.len(), events.len());
        for (event, raw) in parsed.iter().zip(&events) {
            let _ = event.dedupe_key();
            let _ = event.is_echo_of_app(app);
            let kind = raw["subscriptionType"].as_str().unwrap();
            prop_assert_eq!(event.subscription_type.as_str(), kind);
            prop_assert_eq!(&SubscriptionType::parse(kind), &event.subscription_type);
        }
    }
}
