//! Rate limits and retries: 429 by policy, 5xx/423/477 with backoff, bounds, connection errors.

use std::sync::Arc;

use serde_json::{Value, json};
use turris_hubspot::auth::{PrivateAppToken, Secret};
use turris_hubspot::crm::{ObjectType, SimplePublicObject};
use turris_hubspot::{Error, HubSpotClient};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Recorder, client_with, fast_retry, object, roomy_limits};

fn rate_limited(policy: &str) -> Value {
    json!({
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "c-429",
        "policyName": policy,
        "groupName": "api:crm"
    })
}

/// HubSpot's 429 of `policy`.
fn limited(policy: &str) -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(rate_limited(policy))
}

async fn answer_once(server: &MockServer, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(template)
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

/// Answers every read of contact 51 with `template`, expecting `times` of them.
async fn answer_always(server: &MockServer, template: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(template)
        .expect(times)
        .mount(server)
        .await;
}

async fn get_contact(client: &HubSpotClient) -> turris_hubspot::Result<SimplePublicObject> {
    client.get_object(&ObjectType::Contacts, "51", &[]).await
}

async fn then_succeed(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object("51", json!({}))))
        .expect(1)
        .mount(server)
        .await;
}

/// Reads contact 51, with up to `max_attempts` attempts, from a fake HubSpot that gives
/// `answers` in turn and then the contact.
async fn read_after(
    answers: Vec<ResponseTemplate>,
    max_attempts: u32,
) -> (turris_hubspot::Result<SimplePublicObject>, Arc<Recorder>) {
    let server = MockServer::start().await;
    for answer in answers {
        answer_once(&server, answer).await;
    }
    then_succeed(&server).await;
    let (client, recorder) = client_with(&server, max_attempts);
    (get_contact(&client).await, recorder)
}

/// A fake HubSpot that gives `answer` to every read of contact 51 (expecting `times`), and a
/// client of it with up to `max_attempts` attempts.
async fn always(
    answer: ResponseTemplate,
    times: u64,
    max_attempts: u32,
) -> (MockServer, HubSpotClient, Arc<Recorder>) {
    let server = MockServer::start().await;
    answer_always(&server, answer, times).await;
    let (client, recorder) = client_with(&server, max_attempts);
    (server, client, recorder)
}

#[tokio::test]
async fn a_ten_secondly_rolling_429_waits_and_then_succeeds() {
    let (contact, recorder) = read_after(vec![limited("TEN_SECONDLY_ROLLING")], 4).await;
    let contact = contact.unwrap();
    assert_eq!(contact.id, "51");
    let statuses: Vec<_> = recorder
        .calls()
        .iter()
        .map(|c| (c.attempt, c.status))
        .collect();
    assert_eq!(statuses, [(1, Some(429)), (2, Some(200))]);
}

#[tokio::test]
async fn a_secondly_429_with_retry_after_is_retried() {
    let limited = limited("SECONDLY").insert_header("Retry-After", "1");
    read_after(vec![limited], 4).await.0.unwrap();
}

#[tokio::test]
async fn a_daily_429_is_surfaced_without_retry() {
    let (_server, client, recorder) = always(limited("DAILY"), 1, 5).await;
    let err = get_contact(&client).await.unwrap_err();
    let Error::DailyLimit { error: api, .. } = &err else {
        panic!("expected the daily limit, got {err:?}")
    };
    assert_eq!(api.policy_name.as_deref(), Some("DAILY"));
    assert_eq!(recorder.calls().len(), 1);
}

#[tokio::test]
async fn after_a_daily_429_the_portal_is_not_called_again_until_the_next_utc_midnight() {
    let (_server, client, recorder) = always(limited("DAILY"), 1, 5).await;
    let before = chrono::Utc::now();
    let err = get_contact(&client).await.unwrap_err();
    let until = err.daily_limit_until().expect("the reset time");
    assert_eq!(
        until.time(),
        chrono::NaiveTime::MIN,
        "midnight UTC: {until}"
    );
    assert!(until > before && until <= before + chrono::Duration::days(1));
    // Another client of the same portal and limiter is refused locally.
    let again = get_contact(&client).await.unwrap_err();
    assert!(
        matches!(again, Error::DailyLimitBlocked { until: u } if u == until),
        "{again:?}"
    );
    assert_eq!(recorder.calls().len(), 1, "nothing more reached HubSpot");
}

#[tokio::test]
async fn a_daily_429_with_retry_after_blocks_the_portal_for_that_long_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(limited("DAILY").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/51"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object("51", json!({}))))
        .mount(&server)
        .await;
    let (client, _) = client_with(&server, 5);
    let err = get_contact(&client).await.unwrap_err();
    let until = err.daily_limit_until().unwrap();
    assert!(until <= chrono::Utc::now() + chrono::Duration::seconds(1));
    // Waiting (with a deadline) for the block to lapse, then the call goes through.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match get_contact(&client).await {
            Ok(contact) => {
                assert_eq!(contact.id, "51");
                break;
            }
            Err(Error::DailyLimitBlocked { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the block never lapsed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let answers = vec![
        ResponseTemplate::new(502).set_body_string("bad gateway"),
        ResponseTemplate::new(503)
            .set_body_json(json!({"status": "error", "message": "unavailable"})),
        ResponseTemplate::new(504),
    ];
    let (contact, recorder) = read_after(answers, 5).await;
    contact.unwrap();
    let attempts: Vec<_> = recorder
        .calls()
        .iter()
        .map(|c| (c.attempt, c.status))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some(502)),
            (2, Some(503)),
            (3, Some(504)),
            (4, Some(200))
        ]
    );
}

#[tokio::test]
async fn locked_and_477_answers_are_retried() {
    let answers = vec![ResponseTemplate::new(423), ResponseTemplate::new(477)];
    read_after(answers, 3).await.0.unwrap();
}

#[tokio::test]
async fn retries_are_bounded_by_max_attempts() {
    let (_server, client, _) = always(ResponseTemplate::new(503), 3, 3).await;
    let err = get_contact(&client).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
}

#[tokio::test]
async fn rate_limit_retries_are_bounded_too() {
    let (_server, client, _) = always(limited("TEN_SECONDLY_ROLLING"), 2, 2).await;
    let err = get_contact(&client).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(matches!(err, Error::Api(_)));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let invalid = ResponseTemplate::new(400).set_body_json(json!({
        "status": "error", "message": "bad", "category": "VALIDATION_ERROR", "correlationId": "c"
    }));
    let (_server, client, _) = always(invalid, 1, 5).await;
    let err = get_contact(&client).await.unwrap_err();
    assert_eq!(err.category(), Some("VALIDATION_ERROR"));
}

#[tokio::test]
async fn connection_errors_are_retried_and_bounded() {
    // A port nobody listens on: bind, read the port, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let recorder = Arc::new(Recorder::default());
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new("t"))))
        .api_base(base)
        .rate_limiter(roomy_limits())
        .retry(fast_retry(3))
        .observer(recorder.clone())
        .build()
        .unwrap();
    let err = get_contact(&client).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    let calls = recorder.calls();
    assert_eq!(
        calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.status.is_none() && c.error.is_some())
    );
}

/// A client whose HTTP timeout is far shorter than the fake's delay.
fn impatient_client(server: &MockServer) -> (HubSpotClient, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new("pat"))))
        .http_client(http)
        .api_base(server.uri())
        .portal("62515")
        .rate_limiter(roomy_limits())
        .retry(fast_retry(3))
        .observer(recorder.clone())
        .build()
        .unwrap();
    (client, recorder)
}

#[tokio::test]
async fn a_create_that_timed_out_is_not_sent_again_because_hubspot_may_have_made_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/objects/2026-03/companies"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(object("7", json!({})))
                .set_delay(std::time::Duration::from_secs(5)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, recorder) = impatient_client(&server);
    let input = turris_hubspot::crm::SimplePublicObjectInputForCreate {
        properties: [("name".to_owned(), "Acme".to_owned())].into(),
        associations: Vec::new(),
    };
    let result = client.create_object(&ObjectType::Companies, &input).await;
    assert!(matches!(result, Err(Error::Transport(_))), "{result:?}");
    assert_eq!(recorder.calls().len(), 1);
}

#[tokio::test]
async fn a_batch_read_that_timed_out_is_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/objects/2026-03/companies/batch/read"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "COMPLETE", "results": []}))
                .set_delay(std::time::Duration::from_secs(5)),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/objects/2026-03/companies/batch/read"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "COMPLETE", "results": [object("7", json!({}))]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, recorder) = impatient_client(&server);
    let outcome = client
        .batch_read(&ObjectType::Companies, &["7".to_owned()], &["name"], None)
        .await;
    assert_eq!(outcome.results.len(), 1);
    assert!(outcome.failed_chunks.is_empty());
    assert_eq!(recorder.calls().len(), 2);
}

#[tokio::test]
async fn a_huge_retry_after_is_capped_instead_of_panicking() {
    for value in ["1e300", "18446744073709551616", "1e19"] {
        let limited = limited("TEN_SECONDLY_ROLLING").insert_header("retry-after", value);
        let contact = read_after(vec![limited], 4).await.0.unwrap();
        assert_eq!(contact.id, "51", "{value}");
    }
}

#[tokio::test]
async fn garbage_retry_after_values_on_a_503_fall_back_to_backoff() {
    for value in ["-5", "NaN", "inf", "-inf", "soon", "1e309", "0x10", ""] {
        let unavailable = ResponseTemplate::new(503).insert_header("retry-after", value);
        let contact = read_after(vec![unavailable], 4).await.0.unwrap();
        assert_eq!(contact.id, "51", "{value:?}");
    }
}

#[tokio::test]
async fn a_daily_429_with_a_huge_retry_after_blocks_for_at_most_a_day() {
    for value in ["1e15", "1e300", "9223372036854775807"] {
        let server = MockServer::start().await;
        answer_once(
            &server,
            limited("DAILY").insert_header("retry-after", value),
        )
        .await;
        let (client, _) = client_with(&server, 4);
        let before = chrono::Utc::now();
        let err = get_contact(&client).await.unwrap_err();
        let until = err.daily_limit_until().expect("a daily limit");
        assert!(until > before, "{value}: {until}");
        assert!(
            until <= chrono::Utc::now() + chrono::Duration::days(1),
            "{value}: {until}"
        );
    }
}
