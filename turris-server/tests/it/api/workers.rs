//! Supervised workers: a worker task that panics is restarted with backoff and counted, and
//! one that keeps panicking makes `/readyz` a 503 naming it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::Method;
use tokio::sync::mpsc;
use turris_server::workers::{Supervision, shutdown_channel, supervise};

use crate::support::app::{METRICS_TOKEN, TestApp};

/// Restarts at once; a worker is failing after three panics in a row, and never becomes
/// healthy again by running long enough within a test.
const QUICK: Supervision = Supervision {
    first_backoff: Duration::from_millis(1),
    max_backoff: Duration::from_millis(4),
    stable_after: Duration::from_secs(3_600),
    failing_after: 3,
};

/// Starts a supervised worker that panics on its first `panics` starts, then waits for the
/// shutdown; each start is reported on the channel.
fn flaky(
    app: &TestApp,
    name: &'static str,
    panics: u32,
    shutdown: &turris_server::workers::Shutdown,
) -> (tokio::task::JoinHandle<()>, mpsc::UnboundedReceiver<u32>) {
    let (started, starts) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicU32::new(0));
    let supervisor = supervise(
        &app.state,
        name,
        shutdown,
        QUICK,
        move |_state, mut shutdown| {
            let (started, count) = (started.clone(), count.clone());
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = started.send(n);
                if n <= panics {
                    panic!("worker start {n} fails");
                }
                shutdown.fired().await;
            }
        },
    );
    (supervisor, starts)
}

api_test!(
    async fn a_worker_that_panics_is_restarted_counted_and_runs_on(app) {
        let (trigger, shutdown) = shutdown_channel();
        let (supervisor, mut starts) = flaky(app, "test_flaky", 2, &shutdown);
        for expected in 1..=3 {
            assert_eq!(starts.recv().await, Some(expected), "started again after each panic");
        }
        let record = app.state.workers().records()["test_flaky"];
        assert_eq!((record.restarts, record.panics_in_a_row, record.failing), (2, 2, false));
        app.call(Method::GET, "/readyz", None, None).await.expect(200);
        let metrics = app.call(Method::GET, "/metrics", Some(METRICS_TOKEN), None).await.expect(200);
        assert!(metrics.text.contains("turris_worker_restarts_total{worker=\"test_flaky\"} 2"), "{}", metrics.text);
        assert!(metrics.text.contains("turris_worker_failing{worker=\"test_flaky\"} 0"), "{}", metrics.text);
        trigger.fire();
        supervisor.await.unwrap();
        assert_eq!(starts.recv().await, None, "not restarted after a clean stop");
    }
);

api_test!(
    async fn a_worker_that_keeps_panicking_makes_readyz_a_503_naming_it(app) {
        let (trigger, shutdown) = shutdown_channel();
        let (supervisor, mut starts) = flaky(app, "test_broken", u32::MAX, &shutdown);
        // The record is updated before the backoff that precedes each start.
        for expected in 1..=4 {
            assert_eq!(starts.recv().await, Some(expected));
        }
        assert!(app.state.workers().records()["test_broken"].failing);
        let answer = app
            .call(Method::GET, "/readyz", None, None)
            .await
            .expect_error(503, "worker_failing");
        assert!(answer.body["message"].as_str().unwrap().contains("test_broken"), "{}", answer.text);
        let metrics = app.call(Method::GET, "/metrics", Some(METRICS_TOKEN), None).await.expect(200);
        assert!(metrics.text.contains("turris_worker_failing{worker=\"test_broken\"} 1"), "{}", metrics.text);
        trigger.fire();
        supervisor.await.unwrap();
    }
);
