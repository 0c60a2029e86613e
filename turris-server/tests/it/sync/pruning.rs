//! Pruning: activity entries older than 30 days and CRM sync records older than their retention
//! (400 days by default) are deleted, newer ones stay.

use chrono::{Duration, Utc};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::OrganizationId;

use super::*;

sync_test!(
    async fn the_pruning_job_deletes_activity_older_than_thirty_days_and_keeps_the_rest(app) {
        let org = OrganizationId::parse(&app.org).unwrap();
        let now = Utc::now();
        for (days, message) in [(31, "too old"), (29, "recent enough")] {
            let entry = NewActivity::new(ActivityKind::UpdateCompany, Outcome::Success, now - Duration::days(days))
                .with_details(ActivityDetails {
                    message: Some(message.into()),
                    ..ActivityDetails::default()
                });
            app.state.db().append_activity(&org, &entry).await.unwrap();
        }
        let pruned = turris_server::sync::pruning::prune(&app.state, now).await.unwrap();
        assert_eq!(pruned.activity, 1);
        let messages: Vec<Value> = app
            .activity_titled("Update company in HubSpot")
            .await
            .into_iter()
            .map(|a| a["details"]["message"].clone())
            .collect();
        assert_eq!(messages, [json!("recent enough")]);
    }
);

sync_test!(
    async fn sync_records_are_kept_400_days_by_default_far_longer_than_activity(app) {
        use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger};
        let org = OrganizationId::parse(&app.org).unwrap();
        let now = Utc::now();
        let entries: Vec<CrmSyncEntry> = [401, 399, 31]
            .into_iter()
            .map(|days| {
                CrmSyncEntry::new(now - Duration::days(days), CrmObject::Company, CrmOperation::Update, SyncTrigger::RecordChange)
                    .object_id(days.to_string())
            })
            .collect();
        app.state.db().append_sync_records(&org, &entries).await.unwrap();
        let pruned = turris_server::sync::pruning::prune(&app.state, now).await.unwrap();
        assert_eq!(pruned.sync_records, 1);
        let kept = app
            .state
            .db()
            .sync_records(&org, &Default::default(), None, 10)
            .await
            .unwrap();
        let kept: Vec<_> = kept.iter().map(|r| r.entry.object_id.clone().unwrap()).collect();
        assert_eq!(kept, ["31", "399"]);
    }
);
