//! Secret rotation with overlap: two `X-Turris-Signature` lines and two Standard Webhooks
//! signatures, and a verifier that accepts either.

use chrono::Utc;
use http::{HeaderMap, HeaderValue};
use turris_webhooks::{
    MAX_SIGNATURES, SignedHeaders, Verifier, VerifyError, WebhookSecret, sign, sign_standard,
};

const TS: i64 = 1_732_233_600;
const BODY: &[u8] = br#"{"webhookType":"producer_agreement_executed","payload":{}}"#;

fn pair() -> (WebhookSecret, WebhookSecret) {
    (
        WebhookSecret::generate().unwrap(),
        WebhookSecret::generate().unwrap(),
    )
}

fn with_signature(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-turris-signature", HeaderValue::from_str(value).unwrap());
    headers.insert("x-turris-timestamp", HeaderValue::from_static("1732233600"));
    headers
}

#[test]
fn a_rotating_request_carries_the_previous_signature_first_then_the_new_one() {
    let (old, new) = pair();
    let signed = SignedHeaders::rotating(&new, Some(&old), "evt_1", TS, BODY);
    let headers = signed.to_header_map();
    let lines: Vec<&str> = headers
        .get_all("x-turris-signature")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(lines, [sign(&old, TS, BODY), sign(&new, TS, BODY)]);
    // A receiver that reads one value (the first) and still holds the previous secret keeps
    // working unchanged, even with an exact comparison.
    assert_eq!(headers["x-turris-signature"], sign(&old, TS, BODY));
    assert_eq!(
        headers["webhook-signature"],
        format!(
            "{} {}",
            sign_standard(&new, "evt_1", TS, BODY),
            sign_standard(&old, "evt_1", TS, BODY)
        )
    );
    assert_eq!(signed.pairs().len(), 7);
    // Without a previous secret nothing changes: six headers, one signature each.
    let single = SignedHeaders::rotating(&new, None, "evt_1", TS, BODY);
    assert_eq!(single, SignedHeaders::new(&new, "evt_1", TS, BODY));
    assert_eq!(single.to_header_map().len(), 6);
}

#[test]
fn the_verifier_accepts_either_secret_during_the_overlap_and_neither_other_one() {
    let (old, new) = pair();
    let headers = SignedHeaders::rotating(&new, Some(&old), "evt_1", TS, BODY).to_header_map();
    for trusted in [vec![old.clone()], vec![new.clone()], vec![old, new]] {
        assert_eq!(
            Verifier::new(trusted).verify_ignoring_timestamp(&headers, BODY),
            Ok(())
        );
    }
    let stranger = Verifier::new([WebhookSecret::generate().unwrap()]);
    assert_eq!(
        stranger.verify_ignoring_timestamp(&headers, BODY),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn two_signatures_folded_into_one_value_by_a_proxy_still_verify() {
    let (old, new) = pair();
    let (a, b) = (sign(&old, TS, BODY), sign(&new, TS, BODY));
    for folded in [
        format!("{a}, {b}"),
        format!("{a},{b}"),
        format!("{a} {b}"),
        format!("  {b}  "),
    ] {
        let headers = with_signature(&folded);
        assert_eq!(
            Verifier::new([new.clone()]).verify_ignoring_timestamp(&headers, BODY),
            Ok(()),
            "{folded}"
        );
        assert_eq!(
            Verifier::new([new.clone()]).verify_parts_ignoring_timestamp(
                &folded,
                "1732233600",
                BODY
            ),
            Ok(()),
            "{folded}"
        );
    }
}

#[test]
fn a_malformed_value_beside_a_good_one_is_ignored_but_alone_it_is_malformed() {
    let (_, new) = pair();
    let good = sign(&new, TS, BODY);
    let v = Verifier::new([new]);
    let beside = with_signature(&format!("v1=nonsense {good}"));
    assert_eq!(v.verify_ignoring_timestamp(&beside, BODY), Ok(()));
    for bad in ["v1=nonsense", " , ", &good.to_uppercase()] {
        assert_eq!(
            v.verify_ignoring_timestamp(&with_signature(bad), BODY),
            Err(VerifyError::MalformedSignature),
            "{bad:?}"
        );
    }
}

#[test]
fn more_signatures_than_the_maximum_are_refused_as_malformed() {
    let (_, new) = pair();
    let good = sign(&new, TS, BODY);
    let v = Verifier::new([new]);
    let at_most = vec![good.clone(); MAX_SIGNATURES].join(" ");
    assert_eq!(
        v.verify_ignoring_timestamp(&with_signature(&at_most), BODY),
        Ok(())
    );
    let too_many = vec![good; MAX_SIGNATURES + 1].join(" ");
    assert_eq!(
        v.verify_ignoring_timestamp(&with_signature(&too_many), BODY),
        Err(VerifyError::MalformedSignature)
    );
}

#[test]
fn the_standardwebhooks_crate_accepts_a_rotating_request_with_either_secret() {
    let (old, new) = pair();
    let headers = SignedHeaders::rotating(&new, Some(&old), "evt_1", Utc::now().timestamp(), BODY)
        .to_header_map();
    for secret in [&old, &new] {
        let standard = standardwebhooks::Webhook::new(&secret.to_standard_webhooks()).unwrap();
        standard.verify(BODY, &headers).unwrap();
    }
}
