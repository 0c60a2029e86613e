//! The activity log: pages, cursors, outcome filter and pruning.

use chrono::{DateTime, Duration, Utc};

use super::{base_time, fresh_org};
use crate::activity::{
    Activity, ActivityCursor, ActivityDetails, ActivityKind, NewActivity, Outcome,
};
use crate::ids::OrganizationId;
use crate::store::Store;

fn activity_at(at: DateTime<Utc>, message: &str) -> NewActivity {
    NewActivity::new(
        ActivityKind::WebhookCompanyPropertyChanged,
        Outcome::Success,
        at,
    )
    .with_details(ActivityDetails {
        message: Some(message.to_owned()),
        ..Default::default()
    })
}

/// Pages run newest first by `(at, id)`; cursors resume exactly after the previous page even
/// when several entries share a timestamp or newer entries arrive meanwhile.
pub async fn activity_pages_are_newest_first_and_stable_on_timestamp_ties<S: Store + ?Sized>(
    store: &S,
) {
    let org = fresh_org("activity");
    let t = base_time();
    let times = [
        t,
        t + Duration::seconds(5),
        t,
        t - Duration::seconds(5),
        t,
        t + Duration::seconds(5),
        t,
    ];
    let stored = append_in_order(store, &org, &times).await;
    let mut ids: Vec<_> = stored.iter().map(|a| a.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored.len(), "activity ids are unique");

    let mut expected = stored.clone();
    expected.sort_by_key(|a| std::cmp::Reverse(a.position()));

    let first = store.activity_page(&org, None, None, 3).await.unwrap();
    assert_eq!(first.entries.len(), 3);
    let cursor = first.next.clone().expect("more pages");
    store
        .append_activity(&org, &activity_at(t + Duration::hours(1), "newer"))
        .await
        .unwrap();
    store
        .append_activity(&org, &activity_at(t, "tie-after-first-page"))
        .await
        .unwrap();

    let mut seen = first.entries.clone();
    seen.extend(remaining_pages(store, &org, cursor).await);
    let late_tie = seen
        .iter()
        .position(|a| a.entry.details.message.as_deref() == Some("tie-after-first-page"));
    let seen_original: Vec<_> = seen
        .iter()
        .filter(|a| a.entry.details.message.as_deref() != Some("tie-after-first-page"))
        .cloned()
        .collect();
    assert_eq!(
        seen_original, expected,
        "every entry exactly once, newest first, ties by id"
    );
    if let Some(index) = late_tie {
        assert!(
            seen[index].position() < first.entries.last().unwrap().position(),
            "a late entry only appears where it sorts"
        );
    }
    let all = store.activity_page(&org, None, None, 100).await.unwrap();
    assert_eq!(all.entries.len(), 9);
    assert_eq!(all.next, None, "the last page has no cursor");
    assert_eq!(
        all.entries[0].entry.details.message.as_deref(),
        Some("newer")
    );
    let empty = store
        .activity_page(&fresh_org("activity-empty"), None, None, 10)
        .await
        .unwrap();
    assert!(
        empty.entries.is_empty() && empty.next.is_none(),
        "no activity: empty page, no cursor"
    );
}

/// Appends one entry at each time, named `e0`, `e1`, ..., checking what each append returns.
async fn append_in_order<S: Store + ?Sized>(
    store: &S,
    org: &OrganizationId,
    times: &[DateTime<Utc>],
) -> Vec<Activity> {
    let mut stored = Vec::new();
    for (i, at) in times.iter().enumerate() {
        let entry = store
            .append_activity(org, &activity_at(*at, &format!("e{i}")))
            .await
            .unwrap();
        assert_eq!(
            entry.entry,
            activity_at(*at, &format!("e{i}")),
            "append returns what was stored"
        );
        stored.push(entry);
    }
    stored
}

/// Follows the cursors from `cursor` (through their text form) to the last page.
async fn remaining_pages<S: Store + ?Sized>(
    store: &S,
    org: &OrganizationId,
    cursor: ActivityCursor,
) -> Vec<Activity> {
    let mut seen = Vec::new();
    let mut next = Some(cursor);
    while let Some(cursor) = next.take() {
        let cursor = ActivityCursor::parse(cursor.as_str()).expect("cursor survives its text form");
        let page = store
            .activity_page(org, Some(&cursor), None, 3)
            .await
            .unwrap();
        assert!(
            !page.entries.is_empty(),
            "a page with a next cursor is followed by entries"
        );
        seen.extend(page.entries);
        next = page.next;
        assert!(seen.len() <= 20, "pagination terminates");
    }
    seen
}

/// An outcome filter keeps the order and the cursors: every failure exactly once, nothing else.
pub async fn activity_pages_filter_by_outcome<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("activity-outcome");
    let outcomes = [Outcome::Success, Outcome::Failure, Outcome::Skipped];
    for i in 0..9 {
        let entry = NewActivity::new(
            ActivityKind::WebhookCompanyPropertyChanged,
            outcomes[i % 3],
            base_time() + Duration::seconds(i as i64),
        )
        .with_details(ActivityDetails {
            message: Some(format!("e{i}")),
            ..Default::default()
        });
        store.append_activity(&org, &entry).await.unwrap();
    }
    let mut messages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .activity_page(&org, cursor.as_ref(), Some(Outcome::Failure), 2)
            .await
            .unwrap();
        assert!(
            page.entries
                .iter()
                .all(|a| a.entry.outcome == Outcome::Failure)
        );
        messages.extend(
            page.entries
                .iter()
                .filter_map(|a| a.entry.details.message.clone()),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(messages, ["e7", "e4", "e1"], "the failures, newest first");
    let all = store.activity_page(&org, None, None, 100).await.unwrap();
    assert_eq!(all.entries.len(), 9, "no filter, every entry");
}

/// A page holds at least one and at most `MAX_PAGE_SIZE` entries.
pub async fn activity_pages_clamp_their_size<S: Store + ?Sized>(store: &S) {
    let org = fresh_org("activity-clamp");
    for i in 0..3 {
        store
            .append_activity(&org, &activity_at(base_time() + Duration::seconds(i), "x"))
            .await
            .unwrap();
    }
    let page = store.activity_page(&org, None, None, 0).await.unwrap();
    assert_eq!(page.entries.len(), 1, "limit 0 is clamped to 1");
    assert!(page.next.is_some());
    let page = store
        .activity_page(&org, None, None, usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        page.entries.len(),
        3,
        "a huge limit is clamped, not an error"
    );
}

/// Pruning removes entries strictly before the cutoff, in one organization only.
pub async fn activity_prune_removes_only_older_entries_of_one_organization<S: Store + ?Sized>(
    store: &S,
) {
    let (org, other) = (fresh_org("prune"), fresh_org("prune"));
    let now = base_time();
    let cutoff = crate::activity::retention_cutoff(now);
    for days in [40, 31] {
        store
            .append_activity(&org, &activity_at(now - Duration::days(days), "old"))
            .await
            .unwrap();
    }
    store
        .append_activity(&org, &activity_at(cutoff, "at cutoff"))
        .await
        .unwrap();
    store
        .append_activity(&org, &activity_at(now - Duration::days(1), "recent"))
        .await
        .unwrap();
    store
        .append_activity(&other, &activity_at(now - Duration::days(40), "other old"))
        .await
        .unwrap();

    assert_eq!(
        store.prune_activity(&org, cutoff).await.unwrap(),
        2,
        "two entries were older than the cutoff"
    );
    let left = store.activity_page(&org, None, None, 10).await.unwrap();
    let messages: Vec<_> = left
        .entries
        .iter()
        .map(|a| a.entry.details.message.clone().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["recent", "at cutoff"],
        "an entry exactly at the cutoff is kept"
    );
    assert_eq!(
        store
            .activity_page(&other, None, None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1,
        "other organization untouched"
    );
    assert_eq!(
        store.prune_activity(&org, cutoff).await.unwrap(),
        0,
        "pruning again removes nothing"
    );
}
