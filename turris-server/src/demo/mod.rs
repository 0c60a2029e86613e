//! `turris-server demo`: the whole product on one machine, in one command.
//!
//! It starts the built-in HubSpot sandbox, a receiver that verifies `X-Turris-Signature`, and
//! the reference server on SQLite in a data folder (a fresh database each run), then works
//! through the server's public API as an operator would: a demo organization and token, HubSpot
//! connected through the real OAuth flow, a mapping, sync toggles and invitation rules, webhook
//! endpoints. It then plays a person in HubSpot (companies and contacts created and edited in
//! the sandbox, whose webhooks reach `/hooks/hubspot` signed), pushes an agency the other way,
//! and changes a compliance status in Turris, whose signed webhook the receiver verifies. Each
//! step prints when it is done; a summary says what happened, and the server keeps serving
//! (with its URLs and the token printed) until Ctrl-C, or exits with `--exit-when-done`.
//!
//! The demo always uses the sandbox, whatever `TURRIS_HUBSPOT_*` says: it needs to act as a
//! person in HubSpot, which only the sandbox allows.

pub mod receiver;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::watch;
use turris_hubspot_sandbox::{ObjectKind, Sandbox};
use turris_webhooks::{WebhookSecret, WebhookType};

use crate::app::Application;
use crate::config::{Config, DemoArgs, TokenCreate};
use crate::crypto::EncryptionKey;
use receiver::Receiver;

/// How long the demo waits for any one thing to happen before it gives up.
const PATIENCE: Duration = Duration::from_secs(90);

/// The integrations API.
const H: &str = "/api/v1/integrations/hubspot";

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(String);

fn fail(message: impl Into<String>) -> DemoError {
    DemoError(message.into())
}

/// Runs the demo with the command line's settings (`--listen`, `--log`, ...).
pub async fn run(base: Config, args: DemoArgs) -> Result<(), DemoError> {
    let (stop, stopped) = watch::channel(false);
    let signal = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let mut progress = Progress::new(STEPS);
    println!(
        "Turris Integrations demo: the reference server, the HubSpot sandbox and a webhook receiver.\n"
    );

    progress.start(STEPS[0]);
    let sandbox = progress.check(
        Sandbox::builder()
            .start()
            .await
            .map_err(|e| fail(format!("the sandbox cannot start: {e}"))),
    )?;
    progress.done(format!(
        "{} (portal {})",
        sandbox.base_url(),
        sandbox.portal_id()
    ));

    progress.start(STEPS[1]);
    let receiver = progress.check(
        Receiver::start(signal())
            .await
            .map_err(|e| fail(format!("the receiver cannot start: {e}"))),
    )?;
    progress.done(receiver.url().to_owned());

    progress.start(STEPS[2]);
    let (config, server) = progress.check(start_server(base, &args, &sandbox, signal()).await)?;
    let base_url = config.public_base_url.clone();
    progress.done(format!(
        "{base_url}, database {}",
        args.data_dir.join("turris.db").display()
    ));

    let outcome = script(&mut progress, &config, &sandbox, &receiver).await;
    let serve = match outcome {
        Ok(api) => {
            progress.finished();
            summary(&api, &sandbox, &receiver).await?;
            if args.exit_when_done { None } else { Some(api) }
        }
        Err(e) => {
            progress.failed(&e);
            let _ = stop.send(true);
            let _ = server.await;
            sandbox.shutdown().await;
            return Err(e);
        }
    };
    if let Some(api) = serve {
        println!("\nStill serving; try it:");
        let token = crate::crypto::ApiToken::from_presented(api.token.clone());
        match crate::cli::console_link(&config, &token).await {
            Ok(link) => println!("  Console       {link}  (one-time sign-in link, 15 minutes)"),
            Err(e) => println!("  Console       {base_url}/console  (no sign-in link: {e})"),
        }
        println!("  API           {base_url}  (OpenAPI: {base_url}/api/v1/openapi.json)");
        println!("  Token         export TOKEN={}", api.token);
        println!(
            "  Then          curl -H \"Authorization: Bearer $TOKEN\" {base_url}/api/v1/agencies"
        );
        println!(
            "  HubSpot       {}/_sandbox/ui  (edit a company of type Partner, then read {base_url}{H}/activity)",
            sandbox.base_url()
        );
        println!("  Receiver      {}", receiver.url());
        println!("Press Ctrl-C to stop.");
        crate::app::shutdown_signal().await;
    }
    let _ = stop.send(true);
    server
        .await
        .map_err(|e| fail(format!("the server stopped badly: {e}")))?;
    sandbox.shutdown().await;
    Ok(())
}

/// The steps, in order.
const STEPS: &[&str] = &[
    "Start the HubSpot sandbox",
    "Start a webhook receiver that verifies X-Turris-Signature",
    "Start the reference server on SQLite",
    "Create the demo organization and its admin token",
    "Connect HubSpot through OAuth",
    "Configure the field mapping, sync toggles and invitation rules",
    "Wait for HubSpot's webhook subscriptions to go live",
    "Register webhook endpoints for the receiver",
    "Create companies and contacts in HubSpot, as a person would",
    "Edit companies in HubSpot",
    "Create an agency in Turris and push it to HubSpot",
    "Add an agency contact in Turris, releasing the deferred invitation",
    "Change compliance statuses in Turris and deliver signed webhooks",
];

/// Steps 4 to the end, through the server's public API.
async fn script(
    progress: &mut Progress,
    config: &Config,
    sandbox: &Sandbox,
    receiver: &Receiver,
) -> Result<Api, DemoError> {
    progress.start(STEPS[3]);
    let args = TokenCreate {
        organization: "demo".to_owned(),
        user: "admin@demo.example".to_owned(),
        role: "admin".to_owned(),
        name: "demo".to_owned(),
        login_link: false,
        expires_in: None,
    };
    let token = crate::cli::create_token(config, &args)
        .await
        .map_err(|e| fail(format!("cannot create the token: {e}")))?;
    let api = Api::new(&config.public_base_url, token.expose())?;
    progress.done("organization `demo`, user admin@demo.example, role admin".to_owned());
    progress.start(STEPS[4]);
    let portal = connect(&api).await?;
    progress.done(format!("portal {portal}, tokens stored encrypted"));
    progress.start(STEPS[5]);
    configure(&api, sandbox).await?;
    progress.done(
        "agencies: companies of type Partner; agents: their contacts; invitations by contract rules"
            .to_owned(),
    );
    let demo = Demo {
        api: &api,
        sandbox,
        receiver,
    };
    progress.start(STEPS[6]);
    progress.done(demo.wait_until_live().await?);
    progress.start(STEPS[7]);
    progress.done(demo.register_endpoints().await?);
    progress.start(STEPS[8]);
    let (people, done) = demo.sync_new_people().await?;
    progress.done(done);
    progress.start(STEPS[9]);
    progress.done(demo.sync_edits(&people).await?);
    progress.start(STEPS[10]);
    progress.done(demo.push_agency().await?);
    progress.start(STEPS[11]);
    progress.done(demo.release_invitation().await?);
    progress.start(STEPS[12]);
    progress.done(demo.deliver_compliance().await?);
    Ok(api)
}

/// What the steps after sign-in act on: the API as the demo organization's admin, the
/// sandbox as a HubSpot user, the receiver as the customer's endpoint.
struct Demo<'a> {
    api: &'a Api,
    sandbox: &'a Sandbox,
    receiver: &'a Receiver,
}

impl Demo<'_> {
    async fn wait_until_live(&self) -> Result<String, DemoError> {
        let api = self.api;
        let live = eventually("every mapped property to be live", || async {
            let status = api.get(&format!("{H}/webhook-status")).await.ok()?;
            let properties = status["properties"].as_array()?.clone();
            let all_live =
                !properties.is_empty() && properties.iter().all(|p| p["status"] == "live");
            all_live.then_some(properties.len())
        })
        .await?;
        Ok(format!("{live} property subscriptions live"))
    }

    async fn register_endpoints(&self) -> Result<String, DemoError> {
        let api = self.api;
        let receiver = self.receiver;
        for webhook_type in [
            "agency_compliance_status_changes",
            "entity_compliance_data_synchronized",
        ] {
            let created = api
                .post(
                    "/api/v1/webhooks",
                    json!({"webhook_type": webhook_type, "url": receiver.url()}),
                )
                .await?;
            let secret = created["secret"]
                .as_str()
                .ok_or_else(|| fail("a created webhook has its secret"))?;
            receiver.trust(WebhookSecret::parse(secret).map_err(|e| fail(e.to_string()))?);
        }
        Ok("2 endpoints; each secret shown once and handed to the receiver".to_owned())
    }

    async fn sync_new_people(&self) -> Result<(People, String), DemoError> {
        let api = self.api;
        let sandbox = self.sandbox;
        let people = create_in_hubspot(sandbox)?;
        let synced = eventually("the partner companies to become agencies", || async {
            let agencies = names(api, "/api/v1/agencies").await?;
            let agents = names(api, "/api/v1/agents").await?;
            let skipped = titled(api, "HubSpot webhook skipped").await?;
            (agencies.len() >= 3 && agents.len() >= 2 && skipped >= 2)
                .then_some((agencies.len(), agents.len()))
        })
        .await?;
        Ok((
            people,
            format!(
                "5 companies and 3 contacts; {} agencies and {} agents synced, the rest skipped with reasons",
                synced.0, synced.1
            ),
        ))
    }

    async fn sync_edits(&self, people: &People) -> Result<String, DemoError> {
        let api = self.api;
        let sandbox = self.sandbox;
        edit_in_hubspot(sandbox, people)?;
        eventually("the edits to sync", || async {
            let agencies = api.get("/api/v1/agencies?limit=100").await.ok()?;
            let items = agencies["items"].as_array()?;
            let bluebird = items.iter().any(|a| a["name"] == "Bluebird Brokers");
            let phone = items
                .iter()
                .any(|a| a["name"] == "Summit Risk Partners" && a["phone"] == "+1 518 555 0199");
            let custom = skip_reasons(api)
                .await?
                .iter()
                .any(|r| r.contains("custom property"));
            (bluebird && phone && custom).then_some(())
        })
        .await?;
        Ok(
            "Bluebird became a partner (created), a phone edit updated, an NPN edit was skipped"
                .to_owned(),
        )
    }

    async fn push_agency(&self) -> Result<String, DemoError> {
        let api = self.api;
        let sandbox = self.sandbox;
        api.post(
            "/api/v1/agencies",
            json!({"name": "Keystone Underwriting Group", "npn": "30495867", "city": "Harrisburg", "state_code": "PA"}),
        )
        .await?;
        let company = eventually("the agency to appear in HubSpot", || async {
            sandbox.control().find_record(
                ObjectKind::Companies,
                "name",
                "Keystone Underwriting Group",
            )
        })
        .await?;
        sandbox.control().flush_webhooks().await;
        let copies = names(api, "/api/v1/agencies")
            .await
            .map(|n| {
                n.iter()
                    .filter(|n| *n == "Keystone Underwriting Group")
                    .count()
            })
            .unwrap_or_default();
        if copies != 1 {
            return Err(fail(format!(
                "the pushed agency's echo made {copies} agencies"
            )));
        }
        Ok(format!(
            "company {} with type {}; its echo created nothing",
            company.id,
            company.properties.get("type").map_or("-", String::as_str)
        ))
    }

    async fn release_invitation(&self) -> Result<String, DemoError> {
        let api = self.api;
        let summit = agency_id(api, "Summit Risk Partners").await?;
        api.post(
            &format!("/api/v1/agencies/{summit}/contacts"),
            json!({"first_name": "Maya", "last_name": "Chen", "email": "maya.chen@summitrisk.example"}),
        )
        .await?;
        let sent = eventually("the invitation to be sent", || async {
            let list = api
                .get(&format!("/api/v1/invitations?agency_id={summit}"))
                .await
                .ok()?;
            let invitation = list.as_array()?.first()?.clone();
            (invitation["status"] == "sent").then_some(invitation)
        })
        .await?;
        Ok(format!(
            "contract {} sent to {}",
            sent["contract_template_id"].as_str().unwrap_or("-"),
            sent["sent_to"].as_str().unwrap_or("-")
        ))
    }

    async fn deliver_compliance(&self) -> Result<String, DemoError> {
        let api = self.api;
        let receiver = self.receiver;
        let summit = agency_id(api, "Summit Risk Partners").await?;
        let keystone_id = agency_id(api, "Keystone Underwriting Group").await?;
        let harbor = agency_id(api, "Harbor Lane Insurance").await?;
        api.post(
            "/api/v1/compliance-statuses",
            json!({"updates": [
                {"entity_type": "agency", "entity_id": summit, "product": "Property & Casualty", "state": "NY", "status": "compliant"},
                {"entity_type": "agency", "entity_id": harbor, "product": "Property & Casualty", "state": "TX", "status": "non_compliant"},
            ]}),
        )
        .await?;
        api.post(
            "/api/v1/nipr-syncs",
            json!({"entity_type": "agency", "entity_id": keystone_id, "kind": "full_refresh", "outcome": "success"}),
        )
        .await?;
        let waiting = async {
            let changes = receiver
                .wait_for(WebhookType::AgencyComplianceStatusChanges)
                .await;
            let synced = receiver
                .wait_for(WebhookType::EntityComplianceDataSynchronized)
                .await;
            (changes, synced)
        };
        let (changes, _) = tokio::time::timeout(PATIENCE, waiting)
            .await
            .map_err(|_| fail("timed out waiting for the receiver to verify both webhooks"))?;
        let entities = changes.envelope.payload["entities"]
            .as_array()
            .map_or(0, Vec::len);
        Ok(format!(
            "the changes ({entities} entities) sent once the quiet window closed, as event {}; an NIPR sync result sent at once; both verified",
            changes.event_id
        ))
    }
}

/// Starts the server on the data folder's fresh SQLite database, its HubSpot settings pointed
/// at the sandbox, and the sandbox's webhooks pointed at the server.
async fn start_server(
    mut config: Config,
    args: &DemoArgs,
    sandbox: &Sandbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(Config, tokio::task::JoinHandle<()>), DemoError> {
    let key = prepare_data_dir(&args.data_dir)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            fail(format!(
                "cannot listen on {}: {e} (pick another address with --listen)",
                config.listen
            ))
        })?;
    let mut addr = listener
        .local_addr()
        .map_err(|e| fail(format!("no local address: {e}")))?;
    if addr.ip().is_unspecified() {
        addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port());
    }
    config.database_url = format!(
        "sqlite://{}?mode=rwc",
        args.data_dir.join("turris.db").display()
    );
    config.encryption_key = Some(key.to_hex());
    config.encryption_key_file = None;
    config.admin_token = None;
    config.public_base_url = format!("http://{addr}");
    config.hubspot.client_id = Some(sandbox.client_id().to_owned());
    config.hubspot.client_secret = Some(sandbox.client_secret().to_owned());
    config.hubspot.app_id = Some(sandbox.app_id());
    config.hubspot.developer_api_key = Some(sandbox.developer_api_key().to_owned());
    config.hubspot.redirect_url = None;
    config.hubspot.api_base = sandbox.base_url().to_owned();
    config.hubspot.authorize_base = sandbox.base_url().to_owned();
    // The demo's receiver is on loopback, whatever address the demo listens on; the demo is
    // never a production server (production builds leave its feature out).
    config.webhook_allow_loopback = crate::config::AllowLoopback::Force;
    // A short quiet window, so the compliance webhook goes out within seconds.
    config.delivery.debounce_quiet = Duration::from_secs(2);
    config.delivery.debounce_max_wait = Duration::from_secs(20);
    config.delivery.debounce_tick = Duration::from_millis(250);
    let app = Application::build_on(listener, config.clone())
        .await
        .map_err(|e| fail(format!("the server cannot start: {e}")))?;
    sandbox
        .control()
        .set_webhook_target(Some(&format!("{}/hooks/hubspot", config.public_base_url)));
    let server = tokio::spawn(async move {
        if let Err(e) = app.run_until(shutdown).await {
            eprintln!("error: the server stopped: {e}");
        }
    });
    Ok((config, server))
}

/// Creates the data folder, removes the previous run's database, and writes a fresh key to a
/// file created readable by its owner only (mode 0600 from its first byte, never chmod after).
pub fn prepare_data_dir(dir: &Path) -> Result<EncryptionKey, DemoError> {
    let io = |e: std::io::Error| fail(format!("data folder {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    for name in ["turris.db", "turris.db-wal", "turris.db-shm"] {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    let key = EncryptionKey::generate().map_err(|e| fail(e.to_string()))?;
    let path = dir.join("encryption-key");
    // A previous run's file keeps its mode when rewritten: remove it, then create anew.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut file = crate::files::create_private(&path).map_err(io)?;
    std::io::Write::write_all(&mut file, key.to_hex().as_bytes()).map_err(io)?;
    Ok(key)
}

/// Connects HubSpot as a person in a browser would: start, approve, come back. The portal id.
pub async fn connect(api: &Api) -> Result<u64, DemoError> {
    let started = api.post(&format!("{H}/connect"), Value::Null).await?;
    let authorize = started["authorize_url"]
        .as_str()
        .ok_or_else(|| fail("connect answers an authorize_url"))?;
    let approval = api.browser(authorize).await?;
    let back = approval
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| fail("HubSpot's approval redirects to the callback"))?
        .to_owned();
    let callback = api.browser(&back).await?;
    if !callback.status().is_success() {
        return Err(fail(format!(
            "the OAuth callback answered {}",
            callback.status()
        )));
    }
    let card = api.get(H).await?;
    if card["status"] != "connected" {
        return Err(fail(format!(
            "HubSpot is {} after the callback",
            card["status"]
        )));
    }
    card["portal_id"]
        .as_u64()
        .ok_or_else(|| fail("a connected card has its portal id"))
}

/// The HubSpot admin adds two custom properties; the operator sets mapping, toggles and rules.
async fn configure(api: &Api, sandbox: &Sandbox) -> Result<(), DemoError> {
    let control = sandbox.control();
    for (name, label) in [("npn", "Agency NPN"), ("producer_code", "Producer code")] {
        control
            .create_property(
                ObjectKind::Companies,
                json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
            )
            .map_err(|e| fail(format!("custom property {name}: {e:?}")))?;
    }
    api.put(
        &format!("{H}/mapping"),
        json!({
            "agency": {
                "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
                "name": "name", "npn": "npn", "producer_code": "producer_code",
                "website": "website", "phone": "phone", "street_address": "address",
                "city": "city", "state_code": "state", "zip": "zip", "country": "country"
            },
            "agent": {
                "identifier": {"mode": "sync_all"},
                "first_name": "firstname", "last_name": "lastname", "email": "email"
            }
        }),
    )
    .await?;
    api.put(
        &format!("{H}/sync"),
        json!({"agency": {"inbound": true, "outbound": true}, "agents": {"inbound": true}}),
    )
    .await?;
    for (id, name) in [
        ("tpl-ny-appointment", "New York appointment"),
        ("tpl-standard", "Standard producer agreement"),
    ] {
        api.post(
            "/api/v1/contract-templates",
            json!({"id": id, "name": name}),
        )
        .await?;
    }
    api.put(
        &format!("{H}/invitations"),
        json!({
            "mode": "invite_all",
            "rules": [{"condition": {"property": "state", "operator": "equals", "value": "NY"}, "template": "tpl-ny-appointment"}],
            "default_template": "tpl-standard"
        }),
    )
    .await?;
    Ok(())
}

/// Ids of the records the edits touch.
struct People {
    summit: String,
    bluebird: String,
}

fn create_in_hubspot(sandbox: &Sandbox) -> Result<People, DemoError> {
    let control = sandbox.control();
    let company = |props: &[(&str, &str)]| {
        control
            .create_record(ObjectKind::Companies, props.iter().copied())
            .map_err(|e| fail(format!("sandbox company: {e:?}")))
    };
    let summit = company(&[
        ("name", "Summit Risk Partners"),
        ("type", "PARTNER"),
        ("npn", "17283940"),
        ("producer_code", "SRP-001"),
        ("website", "summitrisk.example"),
        ("phone", "+1 518 555 0100"),
        ("address", "12 State Street"),
        ("city", "Albany"),
        ("state", "NY"),
        ("zip", "12207"),
        ("country", "United States"),
    ])?;
    let harbor = company(&[
        ("name", "Harbor Lane Insurance"),
        ("type", "PARTNER"),
        ("npn", "20394857"),
        ("city", "Austin"),
        ("state", "TX"),
    ])?;
    company(&[
        ("name", "Prairie Mutual Agency"),
        ("type", "PARTNER"),
        ("city", "Dallas"),
        ("state", "Texas"),
    ])?;
    company(&[("name", "Northwind Supplies"), ("type", "VENDOR")])?;
    let bluebird = company(&[
        ("name", "Bluebird Brokers"),
        ("type", "PROSPECT"),
        ("state", "OH"),
    ])?;
    let contact = |first: &str, last: &str, email: &str, company: Option<&str>| {
        let created = control
            .create_record(
                ObjectKind::Contacts,
                [("firstname", first), ("lastname", last), ("email", email)],
            )
            .map_err(|e| fail(format!("sandbox contact: {e:?}")))?;
        if let Some(company) = company {
            control
                .associate(
                    ObjectKind::Contacts,
                    &created.id,
                    ObjectKind::Companies,
                    company,
                )
                .map_err(|e| fail(format!("sandbox association: {e:?}")))?;
        }
        Ok::<_, DemoError>(())
    };
    contact(
        "Dana",
        "Whitfield",
        "dana@summitrisk.example",
        Some(&summit.id),
    )?;
    contact(
        "Luis",
        "Ortega",
        "luis@harborlane.example",
        Some(&harbor.id),
    )?;
    contact("Sam", "Lee", "sam@northwind.example", None)?;
    Ok(People {
        summit: summit.id,
        bluebird: bluebird.id,
    })
}

fn edit_in_hubspot(sandbox: &Sandbox, people: &People) -> Result<(), DemoError> {
    let control = sandbox.control();
    let edit = |id: &str, props: &[(&str, &str)]| {
        control
            .update_record(ObjectKind::Companies, id, props.iter().copied())
            .map(|_| ())
            .map_err(|e| fail(format!("sandbox edit: {e:?}")))
    };
    edit(&people.bluebird, &[("type", "PARTNER")])?;
    edit(&people.summit, &[("phone", "+1 518 555 0199")])?;
    edit(&people.summit, &[("npn", "17283941")])?;
    Ok(())
}

/// What the demo did, read back through the API and from the sandbox and receiver.
async fn summary(api: &Api, sandbox: &Sandbox, receiver: &Receiver) -> Result<(), DemoError> {
    let agencies = api.get("/api/v1/agencies?limit=100").await?;
    let agencies = agencies["items"].as_array().cloned().unwrap_or_default();
    let agency_name = |id: &str| {
        agencies
            .iter()
            .find(|a| a["id"] == id)
            .and_then(|a| a["name"].as_str())
            .map(str::to_owned)
    };
    let mut agents = names(api, "/api/v1/agents")
        .await
        .ok_or_else(|| fail("cannot list agents"))?;
    agents.sort_unstable();
    let entries = activity(api)
        .await
        .ok_or_else(|| fail("cannot read the activity"))?;
    let count = |status: &str| entries.iter().filter(|e| e["status"] == status).count();
    let invitations = api.get("/api/v1/invitations").await?;
    let invitations = invitations.as_array().cloned().unwrap_or_default();
    let received = receiver.received();
    let control = sandbox.control();
    let hubspot_name = |id: &str| {
        [ObjectKind::Companies, ObjectKind::Contacts]
            .into_iter()
            .find_map(|kind| control.record(kind, id))
            .and_then(|r| {
                r.properties
                    .get("name")
                    .or_else(|| r.properties.get("email"))
                    .cloned()
            })
    };

    println!("\nWhat happened");
    let mut listed: Vec<&str> = agencies.iter().filter_map(|a| a["name"].as_str()).collect();
    listed.sort_unstable();
    println!(
        "  Agencies in Turris ({}): {}",
        listed.len(),
        listed.join(", ")
    );
    println!(
        "  Agents in Turris ({}): {}",
        agents.len(),
        agents.join(", ")
    );
    println!(
        "  Recent activity: {} entries ({} success, {} skipped, {} failure), oldest first:",
        entries.len(),
        count("success"),
        count("skipped"),
        count("failure")
    );
    for entry in entries.iter().rev() {
        let details = &entry["details"];
        let about = details["turris_id"]
            .as_str()
            .and_then(agency_name)
            .or_else(|| details["hubspot_id"].as_str().and_then(hubspot_name))
            .map(|name| format!(" [{name}]"))
            .unwrap_or_default();
        let why = details["skip_reason"]
            .as_str()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default();
        println!(
            "    {:<8} {}{about}{why}",
            entry["status"].as_str().unwrap_or("-"),
            entry["title"].as_str().unwrap_or("-"),
        );
    }
    println!("  Invitations:");
    for invitation in &invitations {
        let agency = invitation["agency_id"].as_str().unwrap_or("-");
        println!(
            "    {:<16} {} ({})",
            invitation["status"].as_str().unwrap_or("-"),
            agency_name(agency).unwrap_or_else(|| agency.to_owned()),
            invitation["contract_template_id"]
                .as_str()
                .unwrap_or("no template")
        );
    }
    let types: Vec<String> = received
        .iter()
        .map(|r| r.envelope.webhook_type.to_string())
        .collect();
    println!(
        "  Webhooks: {} deliveries verified by the receiver ({}), {} rejected",
        received.len(),
        types.join(", "),
        receiver.rejected()
    );
    let stats = control.stats();
    println!(
        "  HubSpot API calls made by the server: {} ({} answered 429)",
        stats.total_calls(),
        stats.rate_limited
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading the API

/// The names of every agency or agent (`first last` for agents).
async fn names(api: &Api, list: &str) -> Option<Vec<String>> {
    let page = api.get(&format!("{list}?limit=100")).await.ok()?;
    Some(
        page["items"]
            .as_array()?
            .iter()
            .map(|item| match item["name"].as_str() {
                Some(name) => name.to_owned(),
                None => format!(
                    "{} {}",
                    item["first_name"].as_str().unwrap_or_default(),
                    item["last_name"].as_str().unwrap_or_default()
                ),
            })
            .collect(),
    )
}

async fn agency_id(api: &Api, name: &str) -> Result<String, DemoError> {
    let page = api.get("/api/v1/agencies?limit=100").await?;
    page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|a| a["name"] == name))
        .and_then(|a| a["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| fail(format!("no agency named {name}")))
}

async fn activity(api: &Api) -> Option<Vec<Value>> {
    let page = api.get(&format!("{H}/activity?limit=100")).await.ok()?;
    page["entries"].as_array().cloned()
}

async fn titled(api: &Api, title: &str) -> Option<usize> {
    Some(
        activity(api)
            .await?
            .iter()
            .filter(|e| e["title"] == title)
            .count(),
    )
}

async fn skip_reasons(api: &Api) -> Option<Vec<String>> {
    Some(
        activity(api)
            .await?
            .iter()
            .filter_map(|e| e["details"]["skip_reason"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// Polls `check` until it answers, for at most 90 s (the demo's patience).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T, DemoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fail(format!("timed out waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server's public API as one organization's admin, the way a script or a settings page
/// would call it (also used by the load tools).
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// A client of the server at `base` with an API token.
    pub fn new(base: &str, token: &str) -> Result<Self, DemoError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| fail(format!("http client: {e}")))?;
        Ok(Self {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    /// Sends `body` (none when `Null`) and reads the JSON answer; a non-2xx is an error.
    pub async fn send(&self, method: Method, path: &str, body: Value) -> Result<Value, DemoError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("{method} {path}: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(fail(format!("{method} {path} answered {status}: {text}")));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Result<Value, DemoError> {
        self.send(Method::GET, path, Value::Null).await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, DemoError> {
        self.send(Method::POST, path, body).await
    }

    /// `PUT` a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Result<Value, DemoError> {
        self.send(Method::PUT, path, body).await
    }

    /// A browser's visit to `url` (no token, redirects not followed).
    async fn browser(&self, url: &str) -> Result<reqwest::Response, DemoError> {
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(format!("GET {url}: {e}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Progress

/// Prints `[n/N] step ... done (detail)` lines.
struct Progress {
    total: usize,
    current: usize,
    done: usize,
}

impl Progress {
    fn new(steps: &[&str]) -> Self {
        Self {
            total: steps.len(),
            current: 0,
            done: 0,
        }
    }

    fn start(&mut self, title: &str) {
        use std::io::Write;
        self.current += 1;
        print!("[{:>2}/{}] {title} ... ", self.current, self.total);
        let _ = std::io::stdout().flush();
    }

    fn done(&mut self, detail: String) {
        self.done += 1;
        println!("done: {detail}");
    }

    /// Passes `result` on, reporting the current step failed when it is an error.
    fn check<T>(&self, result: Result<T, DemoError>) -> Result<T, DemoError> {
        if let Err(e) = &result {
            self.failed(e);
        }
        result
    }

    fn failed(&self, error: &DemoError) {
        println!("FAILED: {error}");
        println!(
            "\nDemo stopped: {} of {} steps done.",
            self.done, self.total
        );
    }

    fn finished(&self) {
        println!(
            "\nDemo complete: {} of {} steps done.",
            self.done, self.total
        );
    }
}
