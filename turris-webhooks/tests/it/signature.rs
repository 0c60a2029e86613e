use chrono::{TimeZone, Utc};
use http::HeaderMap;
use proptest::prelude::*;
use turris_webhooks::{SignedHeaders, Verifier, VerifyError, WebhookSecret, sign, sign_standard};

fn secret(hex: &str) -> WebhookSecret {
    WebhookSecret::parse(hex).unwrap()
}

fn at(seconds: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

// Expected values computed independently with Python's hmac module:
// hmac.new(bytes.fromhex(key), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
const VECTORS: &[(&str, i64, &[u8], &str)] = &[
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        1_700_000_000,
        b"{}",
        "a9dc44c8eda3de70e9cbf3e488895f1abc26acb1461d3124a3cb886af35251cf",
    ),
    (
        "4f2b9c0e7d1a6b3e8f5c2d9a0b7e4f1c6d3a8b5e2f9c0d7a4b1e8f5c2d9a6b3e",
        1_732_233_600,
        br#"{"webhookType":"producer_agreement_executed","upstreamEntityId":"org_123","payload":{}}"#,
        "dd6fd8c076df4b344428ad433329cd36375c5a93ccf90a258dceb14b499b09b6",
    ),
    (
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        0,
        b"",
        "794122231d2708907dc3f012ffcb3902510857ebd76a8c91cb5c94c7514f3930",
    ),
    (
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        1_234_567_890,
        "café ✓ ✓".as_bytes(),
        "aef5bddf517e17ad88a3a7aac648e2a617c655a965e1e6ff07765a3e8c3e7594",
    ),
];

#[test]
fn sign_matches_the_written_out_vectors() {
    for (key, ts, body, expected) in VECTORS {
        assert_eq!(
            sign(&secret(key), *ts, body),
            *expected,
            "key {key} ts {ts}"
        );
    }
}

#[test]
fn verify_accepts_the_written_out_vectors() {
    for (key, ts, body, expected) in VECTORS {
        let verifier = Verifier::new([secret(key)]);
        assert_eq!(
            verifier.verify_parts(expected, &ts.to_string(), body, at(*ts)),
            Ok(())
        );
    }
}

#[test]
fn standard_webhooks_signature_matches_the_written_out_vector() {
    // base64(hmac.new(key, b"evt_1.1732233600." + body, sha256).digest()), from Python.
    let (key, ts, body, _) = VECTORS[1];
    assert_eq!(
        sign_standard(&secret(key), "evt_1", ts, body),
        "v1,QDKmBBI7/zN7WCCf5f3HaINBx6Q4UXdGmGtCPewsUBo="
    );
}

#[test]
fn the_standardwebhooks_crate_verifies_our_standard_headers() {
    let secret = WebhookSecret::generate().unwrap();
    let body = br#"{"webhookType":"agent_compliance_status_changes","upstreamEntityId":"org_9","payload":{}}"#;
    // The crate checks the timestamp against the system clock, so sign with it.
    let headers = SignedHeaders::new(
        &secret,
        "01939f3e-0000-7000-8000-00000000abcd",
        Utc::now().timestamp(),
        body,
    )
    .to_header_map();
    let standard = standardwebhooks::Webhook::new(&secret.to_standard_webhooks()).unwrap();
    standard.verify(body, &headers).unwrap();
    let other =
        standardwebhooks::Webhook::new(&WebhookSecret::generate().unwrap().to_standard_webhooks())
            .unwrap();
    assert!(other.verify(body, &headers).is_err());
    assert!(standard.verify(b"{}", &headers).is_err());
}

#[test]
fn signed_headers_carry_all_six_headers_with_consistent_values() {
    let s = secret(VECTORS[1].0);
    let signed = SignedHeaders::new(&s, "evt_1", VECTORS[1].1, VECTORS[1].2);
    let h = signed.to_header_map();
    assert_eq!(h["x-turris-signature"], VECTORS[1].3);
    assert_eq!(h["x-turris-timestamp"], "1732233600");
    assert_eq!(h["x-turris-event-id"], "evt_1");
    assert_eq!(h["webhook-id"], "evt_1");
    assert_eq!(h["webhook-timestamp"], "1732233600");
    assert_eq!(
        h["webhook-signature"],
        "v1,QDKmBBI7/zN7WCCf5f3HaINBx6Q4UXdGmGtCPewsUBo="
    );
    assert_eq!(h.len(), 6);
}

fn headers(signature: Option<&str>, timestamp: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(s) = signature {
        h.insert("x-turris-signature", s.parse().unwrap());
    }
    if let Some(t) = timestamp {
        h.insert("x-turris-timestamp", t.parse().unwrap());
    }
    h
}

#[test]
fn every_error_variant_is_reported_precisely() {
    let (key, ts, body, good) = VECTORS[1];
    let v = Verifier::new([secret(key)]);
    let now = at(ts);
    assert_eq!(
        v.verify(&headers(None, Some("1732233600")), body, now),
        Err(VerifyError::MissingHeader("X-Turris-Signature"))
    );
    assert_eq!(
        v.verify(&headers(Some(good), None), body, now),
        Err(VerifyError::MissingHeader("X-Turris-Timestamp"))
    );
    for bad_ts in [
        "",
        "-5",
        "+1732233600",
        "17322336.00",
        "1e9",
        "abc",
        " 1732233600",
        "99999999999999999999",
    ] {
        assert_eq!(
            v.verify_parts(good, bad_ts, body, now),
            Err(VerifyError::MalformedTimestamp),
            "{bad_ts:?}"
        );
    }
    assert_eq!(
        v.verify_parts(good, "1732233600", body, at(ts + 301)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(
        v.verify_parts(good, "1732233600", body, at(ts - 301)),
        Err(VerifyError::TooNew)
    );
    let upper = good.to_uppercase();
    for bad_sig in [
        "",
        "abc",
        &good[..62],
        &format!("{good}00"),
        &upper,
        &format!("v1={good}"),
        &good.replace('d', "g"),
    ] {
        assert_eq!(
            v.verify_parts(bad_sig, "1732233600", body, now),
            Err(VerifyError::MalformedSignature),
            "{bad_sig:?}"
        );
    }
    assert_eq!(
        v.verify_parts(good, "1732233600", b"{ }", now),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        Verifier::new([]).verify_parts(good, "1732233600", body, now),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn error_messages_are_short_and_lower_case() {
    let messages = [
        VerifyError::MissingHeader("X-Turris-Signature").to_string(),
        VerifyError::MalformedTimestamp.to_string(),
        VerifyError::TooOld.to_string(),
        VerifyError::TooNew.to_string(),
        VerifyError::MalformedSignature.to_string(),
        VerifyError::Mismatch.to_string(),
    ];
    assert_eq!(messages[0], "missing header X-Turris-Signature");
    assert_eq!(messages[5], "signature mismatch");
    for m in messages {
        assert!(
            m.starts_with(|c: char| c.is_ascii_lowercase()) && !m.ends_with('.'),
            "{m}"
        );
    }
}

#[test]
fn tolerance_is_inclusive_in_both_directions_and_configurable() {
    let (key, ts, body, good) = VECTORS[1];
    let v = Verifier::new([secret(key)]);
    assert_eq!(v.tolerance(), std::time::Duration::from_secs(300));
    assert_eq!(
        v.verify_parts(good, "1732233600", body, at(ts + 300)),
        Ok(())
    );
    assert_eq!(
        v.verify_parts(good, "1732233600", body, at(ts - 300)),
        Ok(())
    );
    let tight = v.clone().with_tolerance(std::time::Duration::from_secs(10));
    assert_eq!(
        tight.verify_parts(good, "1732233600", body, at(ts + 11)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(
        tight.verify_parts(good, "1732233600", body, at(ts - 11)),
        Err(VerifyError::TooNew)
    );
    assert_eq!(
        tight.verify_parts(good, "1732233600", body, at(ts + 10)),
        Ok(())
    );
}

#[test]
fn verify_ignoring_timestamp_accepts_old_requests_but_still_checks_everything_else() {
    let (key, ts, body, good) = VECTORS[1];
    let v = Verifier::new([secret(key)]);
    let h = headers(Some(good), Some(&ts.to_string()));
    assert_eq!(
        v.verify(&h, body, at(ts + 86_400)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(v.verify_ignoring_timestamp(&h, body), Ok(()));
    assert_eq!(
        v.verify_parts_ignoring_timestamp(good, "1732233600", body),
        Ok(())
    );
    assert_eq!(
        v.verify_ignoring_timestamp(&h, b"x"),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        v.verify_parts_ignoring_timestamp(good, "x", body),
        Err(VerifyError::MalformedTimestamp)
    );
}

#[test]
fn verify_now_uses_the_system_clock() {
    let s = WebhookSecret::generate().unwrap();
    let body = b"{}";
    let v = Verifier::new([s.clone()]);
    let fresh = SignedHeaders::new(&s, "e", Utc::now().timestamp(), body).to_header_map();
    assert_eq!(v.verify_now(&fresh, body), Ok(()));
    let stale = SignedHeaders::new(&s, "e", Utc::now().timestamp() - 3600, body).to_header_map();
    assert_eq!(v.verify_now(&stale, body), Err(VerifyError::TooOld));
}

#[test]
fn a_verifier_with_several_secrets_accepts_any_of_them_during_rotation() {
    let old = WebhookSecret::generate().unwrap();
    let new = WebhookSecret::generate().unwrap();
    let stranger = WebhookSecret::generate().unwrap();
    let v = Verifier::new([old.clone(), new.clone()]);
    for s in [&old, &new] {
        assert_eq!(
            v.verify_parts(&sign(s, 10, b"b"), "10", b"b", at(10)),
            Ok(())
        );
    }
    assert_eq!(
        v.verify_parts(&sign(&stranger, 10, b"b"), "10", b"b", at(10)),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn verifier_debug_does_not_reveal_secrets() {
    let s = WebhookSecret::parse(&"7e".repeat(32)).unwrap();
    let dbg = format!("{:?}", Verifier::new([s]));
    assert!(dbg.contains("redacted") && !dbg.contains("7e7e"), "{dbg}");
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(key in any::<[u8; 32]>(), ts in 0i64..4_000_000_000, body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let s = WebhookSecret::from_bytes(key);
        let sig = sign(&s, ts, &body);
        prop_assert_eq!(sig.len(), 64);
        let v = Verifier::new([s.clone()]);
        prop_assert_eq!(v.verify_parts(&sig, &ts.to_string(), &body, at(ts)), Ok(()));
        let h = SignedHeaders::new(&s, "evt", ts, &body).to_header_map();
        prop_assert_eq!(v.verify(&h, &body, at(ts)), Ok(()));
    }

    #[test]
    fn flipping_one_bit_of_the_body_is_a_mismatch(key in any::<[u8; 32]>(), body in proptest::collection::vec(any::<u8>(), 1..512), bit in any::<proptest::sample::Index>()) {
        let s = WebhookSecret::from_bytes(key);
        let sig = sign(&s, 1_000, &body);
        let mut tampered = body.clone();
        let i = bit.index(body.len() * 8);
        tampered[i / 8] ^= 1 << (i % 8);
        prop_assert_eq!(Verifier::new([s]).verify_parts(&sig, "1000", &tampered, at(1_000)), Err(VerifyError::Mismatch));
    }

    #[test]
    fn flipping_one_bit_of_the_timestamp_fails(key in any::<[u8; 32]>(), ts in 0i64..4_000_000_000, bit in any::<proptest::sample::Index>()) {
        let s = WebhookSecret::from_bytes(key);
        let sig = sign(&s, ts, b"{}");
        let mut raw = ts.to_string().into_bytes();
        let i = bit.index(raw.len() * 8);
        raw[i / 8] ^= 1 << (i % 8);
        let tampered = String::from_utf8_lossy(&raw).into_owned();
        let result = Verifier::new([s]).verify_parts_ignoring_timestamp(&sig, &tampered, b"{}");
        prop_assert!(matches!(result, Err(VerifyError::Mismatch | VerifyError::MalformedTimestamp)), "{:?}", result);
    }

    #[test]
    fn flipping_one_bit_of_the_signature_fails(key in any::<[u8; 32]>(), ts in 0i64..4_000_000_000, bit in 0usize..512) {
        let s = WebhookSecret::from_bytes(key);
        let sig = sign(&s, ts, b"{}");
        // Tamper with the MAC bytes...
        let mut mac = hex::decode(&sig).unwrap();
        mac[(bit / 8) % 32] ^= 1 << (bit % 8);
        let v = Verifier::new([s]);
        prop_assert_eq!(v.verify_parts(&hex::encode(&mac), &ts.to_string(), b"{}", at(ts)), Err(VerifyError::Mismatch));
        // ...and with the hex text itself.
        let mut text = sig.into_bytes();
        text[(bit / 8) % 64] ^= 1 << (bit % 8);
        let text = String::from_utf8_lossy(&text).into_owned();
        let result = v.verify_parts(&text, &ts.to_string(), b"{}", at(ts));
        prop_assert!(matches!(result, Err(VerifyError::Mismatch | VerifyError::MalformedSignature)), "{:?}", result);
    }
}
