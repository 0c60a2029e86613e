//! Inbound webhooks: signature vectors computed independently (python3, pasted here; v1 and
//! v2 vectors are also HubSpot's documented examples) and event parsing.

use turris_hubspot::webhooks::signature::{
    SignatureError, SignedRequest, verify_v1, verify_v2, verify_v3,
};
use turris_hubspot::webhooks::{SubscriptionType, parse_events};

const SECRET: &str = "my-client-secret";
const BODY: &str = r#"[{"eventId":1,"subscriptionId":2,"portalId":42,"appId":7,"occurredAt":1700000000000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,"propertyName":"email","propertyValue":"a@b.co","changeSource":"CRM_UI"}]"#;
const TS: &str = "1700000000000";
const NOW: i64 = 1_700_000_060_000;

// python3: base64(hmac_sha256(SECRET, "POST" + decoded_uri + BODY + TS)) where decoded_uri =
// "https://example.com/webhooks/hubspot?portal=42&name=a:b,c%20d&x=@!$'()*;?"
const ENCODED_URI: &str = "https://example.com/webhooks/hubspot?portal=42&name=a%3Ab%2Cc%20d&x=%40%21%24%27%28%29%2A%3B%3F";
const ENCODED_URI_SIG: &str = "Yb2bu5KPg/0K09eyB+O/4ZwW7VAwMnzOkfDa7/8G3D8=";
const PLAIN_URI: &str = "https://example.com/hubspot/events";
const PLAIN_URI_SIG: &str = "z6vD3x1pRjScOf4tAjIUtHgsimz3ukZZ8fiucdzee88=";

fn request<'a>(uri: &'a str, body: &'a str, signature: &'a str) -> SignedRequest<'a> {
    SignedRequest {
        method: "POST",
        uri,
        body: body.as_bytes(),
        signature,
        timestamp: TS,
    }
}

#[test]
fn v3_accepts_a_uri_with_encoded_characters_and_a_query_string() {
    assert_eq!(
        verify_v3(SECRET, &request(ENCODED_URI, BODY, ENCODED_URI_SIG), NOW),
        Ok(())
    );
}

#[test]
fn v3_accepts_a_plain_uri() {
    assert_eq!(
        verify_v3(SECRET, &request(PLAIN_URI, BODY, PLAIN_URI_SIG), NOW),
        Ok(())
    );
}

#[test]
fn v3_refuses_a_changed_body_uri_method_secret_or_signature() {
    let tampered_body = BODY.replace("a@b.co", "x@b.co");
    assert_eq!(
        verify_v3(
            SECRET,
            &request(PLAIN_URI, &tampered_body, PLAIN_URI_SIG),
            NOW
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_v3(
            SECRET,
            &request("https://example.com/hubspot/other", BODY, PLAIN_URI_SIG),
            NOW
        ),
        Err(SignatureError::Mismatch)
    );
    let get = SignedRequest {
        method: "GET",
        ..request(PLAIN_URI, BODY, PLAIN_URI_SIG)
    };
    assert_eq!(verify_v3(SECRET, &get, NOW), Err(SignatureError::Mismatch));
    assert_eq!(
        verify_v3(
            "other-secret",
            &request(PLAIN_URI, BODY, PLAIN_URI_SIG),
            NOW
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_v3(SECRET, &request(PLAIN_URI, BODY, ENCODED_URI_SIG), NOW),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn v3_refuses_a_request_older_than_five_minutes() {
    let req = request(PLAIN_URI, BODY, PLAIN_URI_SIG);
    let five_minutes = 5 * 60 * 1000;
    assert_eq!(
        verify_v3(SECRET, &req, 1_700_000_000_000 + five_minutes),
        Ok(())
    );
    assert_eq!(
        verify_v3(SECRET, &req, 1_700_000_000_000 + five_minutes + 1),
        Err(SignatureError::Expired)
    );
}

// HubSpot's documented v1/v2 examples (and re-computed with python3's hashlib).
const DOC_SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const DOC_BODY: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;

#[test]
fn v1_matches_hubspots_documented_example() {
    let sig = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
    assert_eq!(verify_v1(DOC_SECRET, DOC_BODY.as_bytes(), sig), Ok(()));
    assert_eq!(
        verify_v1(DOC_SECRET, b"[]", sig),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn v2_matches_hubspots_documented_get_example_and_a_post_vector() {
    let get = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e";
    assert_eq!(
        verify_v2(
            DOC_SECRET,
            "GET",
            "https://www.example.com/webhook_uri",
            b"",
            get
        ),
        Ok(())
    );
    let post = "276a2548f0a0181a076d456de09c0e7477ae101ccc16a11600488a77714e9b8d";
    assert_eq!(
        verify_v2(
            DOC_SECRET,
            "POST",
            "https://www.example.com/webhook_uri",
            DOC_BODY.as_bytes(),
            post
        ),
        Ok(())
    );
    assert_eq!(
        verify_v2(
            DOC_SECRET,
            "POST",
            "https://www.example.com/other",
            DOC_BODY.as_bytes(),
            post
        ),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn every_subscription_type_of_the_spec_is_recognised() {
    let cases = [
        ("company.creation", SubscriptionType::CompanyCreation),
        (
            "company.propertyChange",
            SubscriptionType::CompanyPropertyChange,
        ),
        ("company.deletion", SubscriptionType::CompanyDeletion),
        (
            "company.associationChange",
            SubscriptionType::CompanyAssociationChange,
        ),
        ("company.merge", SubscriptionType::CompanyMerge),
        ("company.restore", SubscriptionType::CompanyRestore),
        ("contact.creation", SubscriptionType::ContactCreation),
        (
            "contact.propertyChange",
            SubscriptionType::ContactPropertyChange,
        ),
        ("contact.deletion", SubscriptionType::ContactDeletion),
        (
            "contact.associationChange",
            SubscriptionType::ContactAssociationChange,
        ),
        ("contact.merge", SubscriptionType::ContactMerge),
        ("contact.restore", SubscriptionType::ContactRestore),
        (
            "contact.privacyDeletion",
            SubscriptionType::ContactPrivacyDeletion,
        ),
        ("deal.creation", SubscriptionType::DealCreation),
    ];
    for (name, expected) in cases {
        let parsed = SubscriptionType::parse(name);
        assert_eq!(parsed, expected, "{name}");
        assert_eq!(parsed.as_str(), name);
    }
}

#[test]
fn a_batch_with_an_unknown_type_and_unknown_fields_is_parsed_whole() {
    let body = r#"[
        {"eventId":1,"subscriptionId":10,"portalId":42,"appId":7,"occurredAt":1700000000000,
         "subscriptionType":"company.propertyChange","attemptNumber":1,"objectId":512,
         "propertyName":"name","propertyValue":"Acme","changeSource":"INTEGRATION","sourceId":"7",
         "isSensitive":false,"aBrandNewField":{"x":1}},
        {"eventId":2,"subscriptionId":11,"portalId":42,"appId":7,"occurredAt":1700000000001,
         "subscriptionType":"ticket.creation","attemptNumber":0,"objectId":9},
        {"eventId":3,"subscriptionId":12,"portalId":42,"appId":7,"occurredAt":1700000000002,
         "subscriptionType":"contact.associationChange","attemptNumber":0,
         "associationType":"CONTACT_TO_COMPANY","fromObjectId":51,"toObjectId":512,
         "associationRemoved":false,"isPrimaryAssociation":true},
        {"eventId":4,"subscriptionId":13,"portalId":42,"appId":7,"occurredAt":1700000000003,
         "subscriptionType":"contact.merge","attemptNumber":0,"objectId":51,
         "primaryObjectId":51,"mergedObjectIds":[52,53],"newObjectId":51,
         "numberOfPropertiesMoved":4}
    ]"#;
    let events = parse_events(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[0].subscription_type,
        SubscriptionType::CompanyPropertyChange
    );
    assert_eq!(events[0].property_value.as_deref(), Some("Acme"));
    assert_eq!(events[0].change_source.as_deref(), Some("INTEGRATION"));
    assert_eq!(events[0].source_id.as_deref(), Some("7"));
    assert_eq!(
        events[1].subscription_type,
        SubscriptionType::Unknown("ticket.creation".to_owned())
    );
    assert_eq!(events[2].from_object_id, Some(51));
    assert_eq!(events[2].association_removed, Some(false));
    assert_eq!(events[3].merged_object_ids, [52, 53]);
    assert_eq!(events[3].subscription_type.object(), "contact");
    assert_eq!(events[3].subscription_type.action(), "merge");
}

#[test]
fn a_body_that_is_not_an_array_is_refused() {
    assert!(parse_events(br#"{"eventId":1}"#).is_err());
    assert!(parse_events(br#"[{"subscriptionType":"contact.creation"}]"#).is_err());
}
