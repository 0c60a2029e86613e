//! What the demo prints: each step as it runs, and the summary read back at the end.

use serde_json::Value;
use turris_hubspot_sandbox::{Control, ObjectKind, Sandbox};

use super::api::{Api, activity, names};
use super::receiver::Receiver;
use super::{DemoError, fail};

/// What the demo did, read back through the API and from the sandbox and receiver.
pub(super) async fn summary(
    api: &Api,
    sandbox: &Sandbox,
    receiver: &Receiver,
) -> Result<(), DemoError> {
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
    let invitations = api.get("/api/v1/invitations?limit=100").await?;
    let invitations = invitations["items"].as_array().cloned().unwrap_or_default();
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
    print_records(&agencies, &agents);
    print_activity(&entries, &agency_name, &hubspot_name);
    print_invitations(&invitations, &agency_name);
    print_traffic(receiver, &control);
    Ok(())
}

fn print_records(agencies: &[Value], agents: &[String]) {
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
}

/// The activity, oldest first, each entry naming the record it is about.
fn print_activity(
    entries: &[Value],
    agency_name: &dyn Fn(&str) -> Option<String>,
    hubspot_name: &dyn Fn(&str) -> Option<String>,
) {
    let count = |status: &str| entries.iter().filter(|e| e["status"] == status).count();
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
}

fn print_invitations(invitations: &[Value], agency_name: &dyn Fn(&str) -> Option<String>) {
    println!("  Invitations:");
    for invitation in invitations {
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
}

/// The webhooks the receiver verified and the calls the sandbox counted.
fn print_traffic(receiver: &Receiver, control: &Control) {
    let received = receiver.received();
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
}

// ---------------------------------------------------------------------------------------------
// Reading the API

/// Prints `[n/N] step ... done (detail)` lines.
pub(super) struct Progress {
    total: usize,
    current: usize,
    done: usize,
}

impl Progress {
    pub(super) fn new(steps: &[&str]) -> Self {
        Self {
            total: steps.len(),
            current: 0,
            done: 0,
        }
    }

    pub(super) fn start(&mut self, title: &str) {
        use std::io::Write;
        self.current += 1;
        print!("[{:>2}/{}] {title} ... ", self.current, self.total);
        let _ = std::io::stdout().flush();
    }

    pub(super) fn done(&mut self, detail: String) {
        self.done += 1;
        println!("done: {detail}");
    }

    /// Passes `result` on, reporting the current step failed when it is an error.
    pub(super) fn check<T>(&self, result: Result<T, DemoError>) -> Result<T, DemoError> {
        if let Err(e) = &result {
            self.failed(e);
        }
        result
    }

    pub(super) fn failed(&self, error: &DemoError) {
        println!("FAILED: {error}");
        println!(
            "\nDemo stopped: {} of {} steps done.",
            self.done, self.total
        );
    }

    pub(super) fn finished(&self) {
        println!(
            "\nDemo complete: {} of {} steps done.",
            self.done, self.total
        );
    }
}
