//! `turris-server demo`, run as the README says, as a separate process: it must finish every
//! step on its own and exit 0 with `--exit-when-done`, and say clearly which step failed when
//! it cannot.

use std::process::Output;
use std::time::Duration;

use tokio::process::Command;

/// Runs the built binary's `demo` with `args`, without the caller's `TURRIS_*` settings.
async fn demo(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_turris-server"));
    command.arg("demo").args(args).kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TURRIS_") {
            command.env_remove(name);
        }
    }
    // A guard against a hung demo, not a measurement: the demo takes seconds.
    tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .expect("the demo finishes")
        .expect("the demo starts")
}

#[tokio::test]
async fn the_demo_reports_every_step_done_and_exits_zero_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data = data.to_str().unwrap();
    let args = [
        "--exit-when-done",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
    ];
    let run = demo(&args).await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        run.status
    );
    let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(steps.len(), 13, "{stdout}");
    for (n, step) in steps.iter().enumerate() {
        assert!(
            step.starts_with(&format!("[{:>2}/13] ", n + 1)) && step.contains(" ... done: "),
            "step {} not done: {step}",
            n + 1
        );
    }
    assert!(
        stdout.contains("Demo complete: 13 of 13 steps done."),
        "{stdout}"
    );
    // What happened, read back from the server, the sandbox and the receiver.
    assert!(
        stdout.contains(
            "Agencies in Turris (5): Bluebird Brokers, Harbor Lane Insurance, Keystone \
             Underwriting Group, Prairie Mutual Agency, Summit Risk Partners"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Agents in Turris (2): Dana Whitfield, Luis Ortega"),
        "{stdout}"
    );
    for skip in [
        "[Northwind Supplies]: record does not match the identifier filter",
        "[Prairie Mutual Agency]: state_code: not a 2-letter US state code",
        "[Summit Risk Partners]: custom property edits do not sync inbound",
        "[Keystone Underwriting Group]: echo of our own write",
    ] {
        assert!(stdout.contains(skip), "{skip} in {stdout}");
    }
    assert!(
        stdout.contains("sent             Summit Risk Partners (tpl-ny-appointment)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Webhooks: 2 deliveries verified by the receiver"),
        "{stdout}"
    );
    assert!(stdout.contains(", 0 rejected"), "{stdout}");
    // The database is in the data folder, and its key is never printed.
    let key = std::fs::read_to_string(dir.path().join("demo/encryption-key")).unwrap();
    assert_eq!(key.len(), 64);
    assert!(dir.path().join("demo/turris.db").exists());
    assert!(!stdout.contains(&key) && !stderr.contains(&key));

    // A second run starts from a fresh database in the same folder.
    let again = demo(&args).await;
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(stdout.contains("Agencies in Turris (5)"), "{stdout}");
}

#[tokio::test]
async fn a_demo_that_cannot_listen_names_the_failed_step_and_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let run = demo(&[
        "--exit-when-done",
        "--listen",
        &addr,
        "--data-dir",
        data.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "[ 3/13] Start the reference server on SQLite ... FAILED: cannot listen on {addr}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Demo stopped: 2 of 13 steps done."),
        "{stdout}"
    );
    assert!(stderr.contains("error: demo: cannot listen on"), "{stderr}");
}
