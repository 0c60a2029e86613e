//! The server binary killed with SIGKILL between HubSpot's write and its own commit: what it
//! had leased is taken over after a restart and nothing is written twice.

use std::process::Stdio;

use tokio::process::{Child, Command};
use turris_hubspot_sandbox::{Fault, ObjectKind, Sandbox};
use turris_server::config::{Config, TokenCreate};

use super::*;

/// A `turris-server serve` process on a fixed port and SQLite file, restartable.
struct Process {
    env: Vec<(&'static str, String)>,
    base: String,
    child: Option<Child>,
    http: reqwest::Client,
    token: String,
}

impl Process {
    async fn start(sandbox: &Sandbox, dir: &std::path::Path) -> Self {
        let database_url = format!("sqlite://{}?mode=rwc", dir.join("turris.db").display());
        let key = turris_server::crypto::EncryptionKey::generate()
            .unwrap()
            .to_hex();
        // The organization and its token, written straight to the database as `token create`
        // does.
        let mut config = Config::local("127.0.0.1:0".parse().unwrap(), database_url.clone());
        config.encryption_key = Some(key.clone());
        let args = TokenCreate {
            organization: "acme".into(),
            user: "ops@acme.example".into(),
            role: "admin".into(),
            name: "crash".into(),
            expires_in: None,
            login_link: false,
        };
        let token = turris_server::cli::create_token(&config, &args)
            .await
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let env = vec![
            ("TURRIS_LISTEN", format!("127.0.0.1:{port}")),
            ("TURRIS_DATABASE_URL", database_url),
            ("TURRIS_ENCRYPTION_KEY", key),
            ("TURRIS_RATE_LIMIT_PER_SECOND", "0".to_owned()),
            ("TURRIS_LOG", "error".to_owned()),
            ("TURRIS_HUBSPOT_API_BASE", sandbox.base_url().to_owned()),
        ];
        let mut process = Self {
            env,
            base: format!("http://127.0.0.1:{port}"),
            child: None,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            token: token.expose().to_owned(),
        };
        process.run().await;
        process
    }

    /// Starts the binary and waits until it is ready.
    async fn run(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_turris-server"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TURRIS_") {
                command.env_remove(name);
            }
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        self.child = Some(command.spawn().unwrap());
        let ready = format!("{}/readyz", self.base);
        eventually("the server is ready", || async {
            let answer = self.http.get(&ready).send().await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
    }

    /// `kill -9`: no shutdown, no lease given back.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    async fn api(&self, method: Method, path: &str, body: Value) -> Value {
        let answer = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        answer.json().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_whose_writer_is_killed_before_its_commit_is_taken_over_and_not_written_twice() {
    let sandbox = Sandbox::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Process::start(&sandbox, dir.path()).await;
    let connect = json!({"portal_id": sandbox.portal_id(), "token": sandbox.private_app_token()});
    server
        .api(Method::POST, &format!("{H}/private-app"), connect)
        .await;
    let sync = json!({"agency": {"inbound": false, "outbound": true}});
    server.api(Method::PUT, &format!("{H}/sync"), sync).await;
    let notes = json!({"agreements": true});
    server.api(Method::PUT, &format!("{H}/notes"), notes).await;
    let agency = server
        .api(
            Method::POST,
            "/api/v1/agencies",
            json!({"name": "Lakeside Agency"}),
        )
        .await;
    let control = sandbox.control();
    eventually("the company is created", || async {
        (control.count(ObjectKind::Companies) == 1).then_some(())
    })
    .await;
    let template = json!({"id": "standard", "name": "Standard"});
    server
        .api(Method::POST, "/api/v1/contract-templates", template)
        .await;
    // HubSpot makes the note, then holds its answer long enough for the server to die.
    control.inject_fault(
        Fault::new("/crm/v3/objects/notes/batch/upsert")
            .method("POST")
            .status(502)
            .after_write()
            .delay(Duration::from_secs(60)),
    );
    let agreement = json!({"agency_id": agency["id"], "contract_template_id": "standard",
        "signers": [{"name": "Grace Hopper", "email": "grace@lakeside.example"}]});
    server
        .api(Method::POST, "/api/v1/producer-agreements", agreement)
        .await;
    eventually("HubSpot holds the note", || async {
        (control.count(ObjectKind::Notes) == 1).then_some(())
    })
    .await;
    server.kill().await;
    server.run().await;
    // The restarted server takes the note over once its lease lapses, finds it by its
    // turris_note_id, and associates it.
    let company = control.records(ObjectKind::Companies)[0].id.clone();
    eventually("the note is on the company", || async {
        (control.notes_of(ObjectKind::Companies, &company).len() == 1).then_some(())
    })
    .await;
    eventually("the note's writes are on record", || async {
        let records = server
            .get(&format!(
                "{H}/sync-records?object=note&operation=associate&status=success"
            ))
            .await;
        (records["entries"].as_array()?.len() == 1).then_some(())
    })
    .await;
    assert_eq!(control.count(ObjectKind::Notes), 1, "written once");
    server.kill().await;
}
