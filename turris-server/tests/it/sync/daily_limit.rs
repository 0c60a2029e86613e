//! HubSpot's DAILY rate limit: once HubSpot answers 429 `DAILY`, the server stops calling the
//! portal until the reset (inbound reads, outbound pushes), logs it once, shows it on the card,
//! and resumes with nothing lost.

use chrono::{DateTime, NaiveTime, Utc};
use turris_hubspot_sandbox::{Fault, ObjectKind, RateLimits, Stats};

use super::*;

const DAILY_TITLE: &str = "HubSpot daily API limit reached";

impl TestApp {
    /// The one daily-limit row, once it exists.
    async fn daily_limit_row(&self) -> Value {
        eventually("the daily limit to be logged", || async {
            self.activity_titled(DAILY_TITLE).await.into_iter().next()
        })
        .await
    }

    async fn paused_until(&self) -> Option<DateTime<Utc>> {
        let view = self.get(H).await.expect(200);
        view.body["sync_paused_until"]
            .as_str()
            .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_utc())
    }
}

trait WithUtc {
    fn with_utc(self) -> DateTime<Utc>;
}

impl WithUtc for DateTime<chrono::FixedOffset> {
    fn with_utc(self) -> DateTime<Utc> {
        self.with_timezone(&Utc)
    }
}

/// Calls to the portal's CRM API (refused ones included).
fn crm_calls(stats: &Stats) -> u64 {
    stats
        .calls
        .iter()
        .filter(|(endpoint, _)| endpoint.contains(" /crm/"))
        .map(|(_, n)| n)
        .sum()
}

fn assert_daily_row(row: &Value) {
    assert_eq!(row["status"], "failure", "{row:#}");
    assert_eq!(row["details"]["hubspot_status"], 429, "{row:#}");
    assert_eq!(row["details"]["error_category"], "RATE_LIMITS", "{row:#}");
    let message = row["details"]["message"].as_str().unwrap();
    assert!(message.contains("sync resumes at"), "{message}");
}

sync_test!(
    async fn a_daily_429_stops_every_call_to_the_portal_until_midnight_utc_and_keeps_the_work_queued(
        app
    ) {
        let control = app.sandbox.control();
        app.set_sync(json!({"agency": {"inbound": true, "outbound": true}})).await;
        // The portal's daily cap is spent: HubSpot answers 429 DAILY, without Retry-After.
        control.set_rate_limits(RateLimits {
            per_day: Some(0),
            ..RateLimits::default()
        });
        control
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Early Agency")])
            .unwrap();
        let row = app.daily_limit_row().await;
        assert_daily_row(&row);
        let until = app.paused_until().await.expect("the card shows the pause");
        assert_eq!(until.time(), NaiveTime::MIN, "the next midnight UTC: {until}");
        assert!(until > Utc::now());
        let message = row["details"]["message"].as_str().unwrap();
        assert!(
            message.contains(&until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "{message}"
        );

        // More work arrives: a HubSpot change and a Turris agency to push.
        control
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Later Agency")])
            .unwrap();
        control.flush_webhooks().await;
        app.create_agency(json!({"name": "Turris Side Agency", "npn": "7654321"})).await;
        // Rounds of every worker, run here so they surely happen: nothing reaches HubSpot.
        let calls = crm_calls(&control.stats());
        for _ in 0..3 {
            turris_server::sync::inbound::step(&app.state).await.unwrap();
            turris_server::sync::outbound::step(&app.state).await.unwrap();
        }
        let stats = control.stats();
        assert_eq!(crm_calls(&stats), calls, "{stats:?}");
        // Nothing was lost or given up: the events and the push wait.
        assert!(app.pending_inbound_events().await >= 2);
        assert_eq!(
            app.count("SELECT COUNT(*) FROM inbound_events WHERE status = 'failed'").await,
            0
        );
        assert_eq!(app.count("SELECT COUNT(*) FROM outbound_pushes").await, 1);
        assert!(app.agencies().await.iter().all(|a| a["name"] == "Turris Side Agency"));
        // One row, however many rounds ran; the connection itself is fine.
        assert_eq!(app.activity_titled(DAILY_TITLE).await.len(), 1);
        let status = app.get("/api/v1/integrations").await.expect(200);
        assert_eq!(status.body["integrations"][0]["status"], "connected");
    }
);

sync_test!(
    async fn sync_resumes_after_the_daily_reset_a_retry_after_announced_and_nothing_is_lost(app) {
        let control = app.sandbox.control();
        // HubSpot's DAILY answer says when the cap resets.
        control.inject_fault(
            Fault::new("/crm/v3/objects/companies/batch/read")
                .status(429)
                .header("Retry-After", "3")
                .body(json!({
                    "status": "error", "message": "You have reached your daily limit.",
                    "errorType": "RATE_LIMIT", "policyName": "DAILY", "correlationId": "c-daily"
                })),
        );
        control
            .create_record(ObjectKind::Companies, [("type", "PARTNER"), ("name", "Patient Agency")])
            .unwrap();
        let row = app.daily_limit_row().await;
        assert_daily_row(&row);
        let agencies = eventually("the agency once the limit reset", || async {
            let agencies = app.agencies().await;
            (!agencies.is_empty()).then_some(agencies)
        })
        .await;
        assert_eq!(agencies.len(), 1, "{agencies:#?}");
        assert_eq!(agencies[0]["name"], "Patient Agency");
        assert_eq!(control.stats().faults_injected, 1);
        assert_eq!(app.activity_titled(DAILY_TITLE).await.len(), 1);
        assert_eq!(app.paused_until().await, None);
    }
);
