//! HubSpot › CRM tags and sync record, in headless Chromium: an admin turns tags on and reads
//! the sync record with its CSV link; a viewer sees the catalog but neither the switch nor the
//! record.

use serde_json::json;

use super::browser::Browser;
use super::read_only_token;

const PAGE: &str = "/console/integrations/hubspot/crm";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_turns_tags_on_and_reads_the_sync_record_and_a_viewer_sees_neither_control() {
    let Some((browser, app)) = Browser::signed_in(
        "an_admin_turns_tags_on_and_reads_the_sync_record_and_a_viewer_sees_neither_control",
    )
    .await
    else {
        return;
    };
    app.connect_private_app().await;
    browser.open(&app, PAGE).await;
    browser.wait_text("#tags-state", "Off").await;
    browser
        .wait_text("#sync-record-empty", "No writes to HubSpot yet")
        .await;
    let catalog = browser.wait_text("#tag-catalog", "non_compliant").await;
    assert!(catalog.contains("NIPR sync failed"), "{catalog}");

    browser.click("#tags-toggle").await;
    browser.wait_text("#flash", "Tags are on").await;
    browser.wait_text("#tags-state", "On").await;
    // The two properties Turris made are the first writes on record.
    let table = browser
        .wait_text("#sync-record-table", "Create property")
        .await;
    assert!(
        table.contains("companies/turris_tags") && table.contains("contacts/turris_tags"),
        "{table}"
    );
    let csv = browser
        .wait("#sync-record-csv")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        csv.starts_with("/console/integrations/hubspot/crm/sync-records.csv"),
        "{csv}"
    );
    browser.screenshot("crm-tags-on").await;
    // Mirror a tag to static lists: both lists are made in HubSpot and the catalog names them.
    browser.click("#list-non_compliant").await;
    browser.click("#lists-save").await;
    browser
        .wait_text("#flash", "Lists are saved: 1 tag(s)")
        .await;
    browser
        .wait_text("#lists-of-non_compliant", "Turris: Non-compliant companies")
        .await;
    let lists = app.sandbox.control().lists();
    let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Turris: Non-compliant companies",
            "Turris: Non-compliant contacts"
        ],
        "{lists:?}"
    );
    browser.screenshot("crm-tag-lists").await;
    // Notes: tick agreements and tickets, save; the API says the same.
    browser.click("#note-agreements").await;
    browser.click("#note-tickets").await;
    browser.click("#notes-save").await;
    browser
        .wait_text("#flash", "Activity notes are saved")
        .await;
    let notes = app
        .get("/api/v1/integrations/hubspot/notes")
        .await
        .expect(200);
    assert_eq!(
        notes.body,
        json!({"invitations": false, "agreements": true, "nipr_errors": false, "tickets": true, "compliance": false})
    );
    // The integrations card and the HubSpot page show the connection's health.
    browser.open(&app, "/console/integrations").await;
    browser.wait_text("[data-health-failures]", "0").await;
    let last = browser.wait_text("[data-health-last]", "UTC").await;
    assert!(!last.contains("never"), "{last}");
    browser.screenshot("integrations-health").await;
    browser.open(&app, "/console/integrations/hubspot").await;
    browser
        .wait_text("#connection [data-health]", "failed in the last 24 h")
        .await;
    // Filtering by failures finds none.
    browser.open(&app, &format!("{PAGE}?status=failure")).await;
    browser
        .wait_text("#sync-record-empty", "match these filters")
        .await;

    // A viewer: the catalog, no switch, no record.
    let viewer = read_only_token(&app).await;
    browser.sign_out(&app).await;
    browser.sign_in(&app, &viewer).await;
    browser.open(&app, PAGE).await;
    browser
        .wait_text("#sync-record-denied", "integrations:update")
        .await;
    let html = browser.html().await;
    assert!(!html.contains("id=\"tags-toggle\"") && !html.contains("sync-record-table"));
    assert!(!html.contains("id=\"notes-save\""));
    browser
        .wait_text("#notes-state", "Producer agreement executed: on")
        .await;
    browser.screenshot("crm-viewer").await;
    browser.close().await;
    app.finish().await;
}
