//! Carries out the operations: HubSpot's side through the sandbox's control API (as a person
//! in HubSpot), Turris' side through the public API of a replica chosen at random, faults and
//! kills on the cluster. Ids a create did not return are looked up in the links table.

mod hubspot;
mod turris;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::Value;
use turris_hubspot_sandbox::{Control, Fault};

use super::cluster::Cluster;
use super::ops::Op;
use super::world::{Company, World};
use super::{Error, Tally};

/// The run in progress.
pub struct Runner {
    pub(super) control: Control,
    pub(super) cluster: Cluster,
    pub(super) world: World,
    http: reqwest::Client,
    token: String,
    /// Picks replicas for API calls: apart from the operations' RNG, so routing never changes
    /// the sequence.
    route: StdRng,
    /// Operation number at which each down replica comes back.
    restart_at: Vec<Option<usize>>,
    /// Which replica HubSpot's webhooks go to.
    webhook_target: usize,
    pub(super) tally: Tally,
}

/// The answer of an API call that reached a replica.
struct Answer {
    status: u16,
    body: Value,
}

impl Runner {
    /// A runner over a started cluster, with an organization token.
    pub fn new(control: Control, cluster: Cluster, token: String, seed: u64) -> Self {
        let n = cluster.replicas();
        Self {
            control,
            cluster,
            world: World::default(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            token,
            route: StdRng::seed_from_u64(seed ^ 0x5eed),
            restart_at: vec![None; n],
            webhook_target: 0,
            tally: Tally::default(),
        }
    }

    /// Points HubSpot's webhooks at replica `i`.
    pub fn target_webhooks(&mut self, i: usize) {
        self.webhook_target = i;
        self.control
            .set_webhook_target(Some(&format!("{}/hooks/hubspot", self.cluster.base(i))));
    }

    /// One API call, to a running replica; a replica that does not answer is tried again on
    /// another (or, alone, after a pause).
    async fn api(&mut self, method: Method, path: &str, body: Value) -> Result<Answer, Error> {
        for attempt in 0..100 {
            let up: Vec<usize> = (0..self.cluster.replicas())
                .filter(|i| self.cluster.is_up(*i))
                .collect();
            if up.is_empty() {
                return Err("no replica is up".into());
            }
            let i = up[self.route.random_range(0..up.len())];
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.cluster.base(i)))
                .bearer_auth(&self.token);
            if !body.is_null() {
                request = request.json(&body);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                    return Ok(Answer { status, body });
                }
                // A create whose answer was lost may have been made: the caller looks first.
                Err(_) if method == Method::POST => {
                    return Ok(Answer {
                        status: 0,
                        body: Value::Null,
                    });
                }
                // A replica killed under the call: try again, on another if there is one.
                Err(_) if attempt < 99 => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err("unreachable".into())
    }

    /// Carries out operation number `n`.
    pub async fn apply(&mut self, n: usize, op: &Op) -> Result<(), Error> {
        self.restart_due(n).await?;
        match op {
            Op::RateLimitBurst { .. }
            | Op::ServerErrorBurst { .. }
            | Op::Pause { .. }
            | Op::Kill { .. } => {
                return self.chaos_op(n, op).await;
            }
            Op::TurrisCreateAgency { .. }
            | Op::TurrisEditAgency { .. }
            | Op::TurrisCreateContact { .. }
            | Op::TurrisEditContact { .. } => self.turris_op(op).await?,
            _ => self.hubspot_op(op).await?,
        }
        Ok(())
    }

    /// 429 and 5xx bursts, pauses and kills.
    async fn chaos_op(&mut self, n: usize, op: &Op) -> Result<(), Error> {
        match op {
            Op::RateLimitBurst { calls } => {
                self.control.inject_fault(
                    Fault::new("/crm/*")
                        .status(429)
                        .header("Retry-After", "1")
                        .times(*calls),
                );
                self.tally.faults += u64::from(*calls);
            }
            Op::ServerErrorBurst {
                calls,
                status,
                after_write,
            } => {
                let mut fault = Fault::new("/crm/*").status(*status).times(*calls);
                if *after_write {
                    fault = fault.method("POST").after_write();
                }
                self.control.inject_fault(fault);
                self.tally.faults += u64::from(*calls);
            }
            Op::Pause { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Op::Kill { replica, down_for } => self.kill(n, *replica, *down_for).await?,
            _ => {}
        }
        Ok(())
    }

    fn effect(&mut self, what: &'static str, took: bool) {
        let entry = self.tally.effects.entry(what).or_default();
        if took {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }

    fn company(&mut self, n: usize) -> &mut Company {
        self.world.companies.entry(n).or_default()
    }

    fn contact_turris(&self, n: usize) -> Option<String> {
        self.world
            .contacts
            .get(&n)
            .and_then(|c| c.turris_id.clone())
    }

    /// The other side's id of a link: from a Turris id (`to_hubspot`) or a HubSpot id.
    async fn linked(
        &self,
        to_hubspot: bool,
        kind: &str,
        id: Option<String>,
    ) -> Result<Option<String>, Error> {
        let Some(id) = id else { return Ok(None) };
        let (want, have) = if to_hubspot {
            ("hubspot_id", "turris_id")
        } else {
            ("turris_id", "hubspot_id")
        };
        let rows = self
            .cluster
            .db
            .rows(&format!(
                "SELECT {want} FROM links WHERE kind = '{kind}' AND {have} = '{id}'"
            ))
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }

    /// A company's HubSpot id: known from its creation in HubSpot, else from its link.
    async fn hubspot_company(&mut self, n: usize) -> Result<Option<String>, Error> {
        let c = self.company(n).clone();
        if c.hubspot_id.is_some() {
            return Ok(c.hubspot_id);
        }
        let id = self.linked(true, "agency", c.turris_id).await?;
        self.company(n).hubspot_id.clone_from(&id);
        Ok(id)
    }

    /// An agency's id: known from its creation in Turris, else from its link.
    async fn turris_agency(&mut self, n: usize) -> Result<Option<String>, Error> {
        let c = self.company(n).clone();
        if c.turris_id.is_some() {
            return Ok(c.turris_id);
        }
        let id = self.linked(false, "agency", c.hubspot_id).await?;
        self.company(n).turris_id.clone_from(&id);
        Ok(id)
    }

    /// `kill -9` of `replica` unless it is the last one up; back after `down_for` operations
    /// (alone, it is restarted at once: the run needs a server).
    async fn kill(&mut self, n: usize, replica: usize, down_for: usize) -> Result<(), Error> {
        let up = (0..self.cluster.replicas())
            .filter(|i| self.cluster.is_up(*i))
            .count();
        if !self.cluster.is_up(replica) {
            return Ok(());
        }
        self.cluster.kill_replica(replica).await;
        self.tally.kills += 1;
        if up == 1 {
            tokio::time::sleep(Duration::from_millis(down_for as u64 * 10)).await;
            return self.cluster.start_replica(replica).await;
        }
        self.restart_at[replica] = Some(n + down_for);
        if self.webhook_target == replica
            && let Some(other) = (0..self.cluster.replicas()).find(|i| self.cluster.is_up(*i))
        {
            self.target_webhooks(other);
        }
        Ok(())
    }

    async fn restart_due(&mut self, n: usize) -> Result<(), Error> {
        for i in 0..self.restart_at.len() {
            if self.restart_at[i].is_some_and(|at| at <= n) {
                self.restart_at[i] = None;
                self.cluster.start_replica(i).await?;
            }
        }
        Ok(())
    }

    /// Restarts every replica still down (the end of the operations).
    pub async fn restart_all(&mut self) -> Result<(), Error> {
        self.restart_due(usize::MAX).await
    }
}
