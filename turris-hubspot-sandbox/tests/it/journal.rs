//! The webhooks journal, driven with the real client: subscriptions, reading by offset, the
//! data files, the events they stand for, and expiry after three days.

use std::sync::Arc;
use std::time::Duration;

use turris_hubspot::HubSpotClient;
use turris_hubspot::auth::oauth::JOURNAL_SCOPES;
use turris_hubspot::auth::{AppTokenSource, OAuthClient, OAuthConfig, Secret};
use turris_hubspot::webhooks::journal::{JournalClient, JournalNext, JournalSubscription};
use turris_hubspot::webhooks::{EventAction, WebhookEvent};
use turris_hubspot_sandbox::{ObjectKind, Sandbox};

use crate::helpers::{builder, contact};

fn journal(sb: &Sandbox) -> JournalClient {
    let config = OAuthConfig::new(
        sb.client_id(),
        Secret::new(sb.client_secret()),
        "http://x/cb",
    )
    .with_api_base(sb.base_url());
    let oauth = OAuthClient::new(config).expect("oauth");
    let client = HubSpotClient::builder(Arc::new(AppTokenSource::new(oauth, JOURNAL_SCOPES)))
        .api_base(sb.base_url())
        .build()
        .expect("client");
    JournalClient::new(client)
}

/// Every entry after `from` (the earliest when `None`), as webhook events, and the last offset.
async fn read_all(journal: &JournalClient, from: Option<String>) -> (Vec<WebhookEvent>, String) {
    let mut offset = from;
    let mut events = Vec::new();
    loop {
        let page = match &offset {
            None => journal.earliest().await.expect("earliest"),
            Some(o) => match journal.next_after(o).await.expect("next") {
                JournalNext::Page(p) => Some(p),
                JournalNext::UpToDate => None,
                JournalNext::Expired => panic!("offset {o} expired"),
            },
        };
        let Some(page) = page else {
            return (events, offset.unwrap_or_default());
        };
        let file = journal.fetch(&page).await.expect("file");
        assert_eq!(file.offset, page.current_offset);
        for e in &file.journal_events {
            events.extend(e.to_webhook_events(events.len() as u64 + 1));
        }
        offset = Some(page.current_offset);
    }
}

#[tokio::test]
async fn journal_entries_are_read_once_in_order_and_expire_after_three_days() {
    let sb = builder().start().await.expect("start");
    let journal = journal(&sb);
    let control = sb.control();
    assert_eq!(journal.earliest().await.expect("empty journal"), None);

    let mut wanted = JournalSubscription::object(sb.portal_id(), "0-2", vec!["name".into()]);
    let made = journal
        .upsert_subscription(&wanted)
        .await
        .expect("subscribe");
    // The same portal and object type again updates the one subscription.
    wanted.actions.retain(|a| a != "RESTORE");
    let again = journal
        .upsert_subscription(&wanted)
        .await
        .expect("resubscribe");
    assert_eq!(made.id, again.id);
    assert_eq!(journal.subscriptions().await.expect("list").len(), 1);

    let acme = control
        .create_record(
            ObjectKind::Companies,
            [("name", "Acme"), ("domain", "acme.test")],
        )
        .expect("create");
    control
        .update_record(
            ObjectKind::Companies,
            &acme.id,
            [("domain", "acme.example")],
        )
        .expect("edit");
    control
        .update_record(ObjectKind::Companies, &acme.id, [("name", "Acme Inc")])
        .expect("rename");
    contact(&control, "not@subscribed.test");

    let (events, last) = read_all(&journal, None).await;
    let seen: Vec<(EventAction, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.subscription_type.action_kind(),
                e.property_name.as_deref(),
                e.property_value.as_deref(),
            )
        })
        .collect();
    // The create carries every property it set; of the edits only `name` is subscribed.
    assert!(
        seen.contains(&(EventAction::Creation, None, None)),
        "{seen:?}"
    );
    assert!(seen.contains(&(EventAction::PropertyChange, Some("name"), Some("Acme Inc"))));
    assert!(!seen.contains(&(
        EventAction::PropertyChange,
        Some("domain"),
        Some("acme.example")
    )));
    assert!(
        events
            .iter()
            .all(|e| e.object_id.map(|id| id.to_string()) == Some(acme.id.clone()))
    );
    assert_eq!(events[0].change_source.as_deref(), Some("CRM_UI"));
    // Nothing new after the last offset: the same offset asks again later.
    assert_eq!(
        journal.next_after(&last).await.expect("up to date"),
        JournalNext::UpToDate
    );
    control
        .delete_record(ObjectKind::Companies, &acme.id)
        .expect("delete");
    let (after, _) = read_all(&journal, Some(last.clone())).await;
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0].subscription_type.action_kind(),
        EventAction::Deletion
    );

    // Three days later the entries are gone and reading after an old offset says so.
    control.advance_journal_clock(Duration::from_secs(3 * 24 * 3600 + 60));
    assert_eq!(
        journal.next_after(&last).await.expect("expired"),
        JournalNext::Expired
    );
    assert_eq!(journal.earliest().await.expect("emptied"), None);

    journal
        .delete_subscription(made.id.as_deref().unwrap())
        .await
        .expect("unsubscribe");
    assert!(journal.subscriptions().await.expect("list").is_empty());
    journal
        .delete_subscription("424242")
        .await
        .expect("an unknown id counts as deleted");
}

#[tokio::test]
async fn journal_files_need_their_signature_and_the_journal_needs_the_app_token() {
    let sb = builder().start().await.expect("start");
    let journal = journal(&sb);
    let sub = JournalSubscription::object(sb.portal_id(), "0-1", Vec::new());
    journal.upsert_subscription(&sub).await.expect("subscribe");
    sb.control()
        .create_record(ObjectKind::Contacts, [("email", "a@b.test")])
        .expect("create");
    let page = journal.earliest().await.expect("read").expect("one entry");
    let http = reqwest::Client::new();
    let unsigned = page.url.split('?').next().unwrap().to_owned();
    assert_eq!(http.get(&unsigned).send().await.unwrap().status(), 403);
    assert_eq!(http.get(&page.url).send().await.unwrap().status(), 200);
    // A portal's CRM token cannot read the journal.
    let earliest = format!(
        "{}/webhooks-journal/journal/2026-03/earliest",
        sb.base_url()
    );
    let crm = http
        .get(&earliest)
        .bearer_auth(sb.private_app_token())
        .send()
        .await
        .unwrap();
    assert_eq!(crm.status(), 401);
    // The local journal of another portal is empty.
    let client = HubSpotClient::builder(Arc::new(AppTokenSource::new(
        OAuthClient::new(
            OAuthConfig::new(
                sb.client_id(),
                Secret::new(sb.client_secret()),
                "http://x/cb",
            )
            .with_api_base(sb.base_url()),
        )
        .unwrap(),
        JOURNAL_SCOPES,
    )))
    .api_base(sb.base_url())
    .build()
    .unwrap();
    let mine = JournalClient::local(client.clone(), sb.portal_id());
    assert!(mine.earliest().await.unwrap().is_some());
    let other = JournalClient::local(client, sb.portal_id() + 1);
    assert_eq!(other.earliest().await.unwrap(), None);
    // Journal calls (and the token call) are counted under the dated version they used.
    let versions = sb.control().stats().versions;
    assert_eq!(
        versions.keys().collect::<Vec<_>>(),
        ["2026-03"],
        "{versions:?}"
    );
}
