//! Carries out the operations: HubSpot's side through the sandbox's control API (as a person
//! in HubSpot), Turris' side through the public API of a replica chosen at random, faults and
//! kills on the cluster. Ids a create did not return are looked up in the links table.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use turris_hubspot_sandbox::{Control, Fault, ObjectKind};

use super::check::Side;
use super::cluster::Cluster;
use super::ops::{Field, NameField, Op};
use super::world::{Company, Contact, World};
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
            Op::HsCreateCompany {
                company,
                partner,
                values,
            } => self.hs_create_company(*company, *partner, values),
            Op::HsEditCompany {
                company,
                field,
                value,
            } => {
                self.hs_edit_company(*company, *field, value).await?;
            }
            Op::HsMakePartner { company } => {
                if let Some(id) = self.hubspot_company(*company).await? {
                    self.effect(
                        "hs_make_partner",
                        self.control
                            .update_record(ObjectKind::Companies, &id, [("type", "PARTNER")])
                            .is_ok(),
                    );
                }
            }
            Op::HsDeleteCompany { company } => {
                if let Some(id) = self.hubspot_company(*company).await? {
                    let ok = self
                        .control
                        .delete_record(ObjectKind::Companies, &id)
                        .is_ok();
                    self.effect("hs_delete", ok);
                    self.company(*company).detached |= ok;
                }
            }
            Op::HsMergeCompanies { primary, merged } => {
                let a = self.hubspot_company(*primary).await?;
                let b = self.hubspot_company(*merged).await?;
                if let (Some(a), Some(b)) = (a, b) {
                    let ok = self
                        .control
                        .merge_records(ObjectKind::Companies, &a, &b)
                        .is_ok();
                    self.effect("hs_merge", ok);
                    if ok {
                        self.company(*primary).detached = true;
                        self.company(*merged).detached = true;
                    }
                }
            }
            Op::HsCreateContact { contact, company } => {
                self.hs_create_contact(*contact, *company).await?;
            }
            Op::HsEditContact {
                contact,
                field,
                value,
            } => {
                let id = self
                    .world
                    .contacts
                    .get(contact)
                    .and_then(|c| c.hubspot_id.clone());
                let id = match id {
                    Some(id) => Some(id),
                    None => {
                        self.linked(false, "agency_contact", self.contact_turris(*contact))
                            .await?
                    }
                };
                if let Some(id) = id {
                    let property = match field {
                        NameField::First => "firstname",
                        NameField::Last => "lastname",
                    };
                    let ok = self
                        .control
                        .update_record(ObjectKind::Contacts, &id, [(property, value.as_str())])
                        .is_ok();
                    self.effect("hs_edit_contact", ok);
                    if ok {
                        let c = self.world.contacts.entry(*contact).or_default();
                        c.hubspot_id = Some(id);
                        c.wrote(*field, value);
                    }
                }
            }
            Op::HsAssociate { contact, company } => {
                let from = self
                    .world
                    .contacts
                    .get(contact)
                    .and_then(|c| c.hubspot_id.clone());
                let to = self.hubspot_company(*company).await?;
                if let (Some(from), Some(to)) = (from, to) {
                    let ok = self
                        .control
                        .associate(ObjectKind::Contacts, &from, ObjectKind::Companies, &to)
                        .is_ok();
                    self.effect("hs_associate", ok);
                }
            }
            Op::TurrisCreateAgency { company, values } => {
                self.turris_create_agency(*company, values).await?;
            }
            Op::TurrisEditAgency {
                company,
                field,
                value,
            } => {
                self.turris_edit_agency(*company, *field, value).await?;
            }
            Op::TurrisCreateContact { contact, company } => {
                self.turris_create_contact(*contact, *company).await?;
            }
            Op::TurrisEditContact {
                contact,
                field,
                value,
            } => {
                self.turris_edit_contact(*contact, *field, value).await?;
            }
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

    fn hs_create_company(&mut self, n: usize, partner: bool, values: &[(Field, String)]) {
        let mut props: Vec<(&str, &str)> = values
            .iter()
            .map(|(f, v)| (f.property(), v.as_str()))
            .collect();
        props.push(("type", if partner { "PARTNER" } else { "VENDOR" }));
        match self.control.create_record(ObjectKind::Companies, props) {
            Ok(record) => {
                self.effect("hs_create_company", true);
                let c = self.company(n);
                c.hubspot_id = Some(record.id);
                for (f, v) in values {
                    c.wrote(Side::HubSpot, *f, v);
                }
            }
            Err(_) => self.effect("hs_create_company", false),
        }
    }

    async fn hs_edit_company(&mut self, n: usize, field: Field, value: &str) -> Result<(), Error> {
        let Some(id) = self.hubspot_company(n).await? else {
            self.effect("hs_edit_company", false);
            return Ok(());
        };
        let ok = self
            .control
            .update_record(ObjectKind::Companies, &id, [(field.property(), value)])
            .is_ok();
        self.effect("hs_edit_company", ok);
        if ok {
            self.company(n).wrote(Side::HubSpot, field, value);
        }
        Ok(())
    }

    async fn hs_create_contact(&mut self, n: usize, company: usize) -> Result<(), Error> {
        let contact = Contact {
            first: format!("First{n}"),
            last: format!("Last{n}"),
            email: format!("contact{n}@sim.example"),
            ..Contact::default()
        };
        let record = self.control.create_record(
            ObjectKind::Contacts,
            [
                ("firstname", contact.first.as_str()),
                ("lastname", contact.last.as_str()),
                ("email", contact.email.as_str()),
            ],
        );
        let Ok(record) = record else {
            self.effect("hs_create_contact", false);
            return Ok(());
        };
        self.effect("hs_create_contact", true);
        if let Some(company) = self.hubspot_company(company).await? {
            let _ = self.control.associate(
                ObjectKind::Contacts,
                &record.id,
                ObjectKind::Companies,
                &company,
            );
        }
        self.world.contacts.insert(
            n,
            Contact {
                hubspot_id: Some(record.id),
                ..contact
            },
        );
        Ok(())
    }

    /// Creates once: a call whose answer was lost is looked up by its NPN before it is sent
    /// again, as a careful client would.
    async fn turris_create_agency(
        &mut self,
        n: usize,
        values: &[(Field, String)],
    ) -> Result<(), Error> {
        let mut body = json!({});
        for (f, v) in values {
            body[f.turris()] = json!(v);
        }
        let npn = values
            .iter()
            .find(|(f, _)| *f == Field::Npn)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let lookup = format!("SELECT id FROM agencies WHERE npn = '{npn}'");
        let id = self.create_once("/api/v1/agencies", body, &lookup).await?;
        self.effect("turris_create_agency", id.is_some());
        if id.is_some() {
            let c = self.company(n);
            c.turris_id = id;
            for (f, v) in values {
                c.wrote(Side::Turris, *f, v);
            }
        }
        Ok(())
    }

    /// `POST`s a create until it is made, looking it up (`lookup` selects its id) after a
    /// call whose answer was lost, so it is never made twice by the client.
    async fn create_once(
        &mut self,
        path: &str,
        body: Value,
        lookup: &str,
    ) -> Result<Option<String>, Error> {
        for _ in 0..20 {
            let answer = self.api(Method::POST, path, body.clone()).await?;
            if answer.status == 201 {
                return Ok(answer.body["id"].as_str().map(str::to_owned));
            }
            let rows = self.cluster.db.rows(lookup).await?;
            if let Some(id) = rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten())
            {
                return Ok(Some(id));
            }
            if answer.status != 0 {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(None)
    }

    /// A full `PUT` carrying the run's last write of every standard field and the record's own
    /// custom values, with `field` changed.
    async fn turris_edit_agency(
        &mut self,
        n: usize,
        field: Field,
        value: &str,
    ) -> Result<(), Error> {
        let Some(id) = self.turris_agency(n).await? else {
            self.effect("turris_edit_agency", false);
            return Ok(());
        };
        let current = self
            .api(Method::GET, &format!("/api/v1/agencies/{id}"), Value::Null)
            .await?;
        if current.status != 200 {
            self.effect("turris_edit_agency", false);
            return Ok(());
        }
        let mut body = current.body;
        if let Some(object) = body.as_object_mut() {
            object.remove("id");
        }
        for (f, v) in &self.company(n).standard {
            if !(*f == Field::State && v == "Texas") {
                body[f.turris()] = json!(v);
            }
        }
        body[field.turris()] = json!(value);
        let answer = self
            .api(Method::PUT, &format!("/api/v1/agencies/{id}"), body)
            .await?;
        let ok = answer.status == 200;
        self.effect("turris_edit_agency", ok);
        if ok {
            self.company(n).wrote(Side::Turris, field, value);
        }
        Ok(())
    }

    async fn turris_create_contact(&mut self, n: usize, company: usize) -> Result<(), Error> {
        let Some(agency) = self.turris_agency(company).await? else {
            self.effect("turris_create_contact", false);
            return Ok(());
        };
        let contact = Contact {
            first: format!("First{n}"),
            last: format!("Last{n}"),
            email: format!("contact{n}@sim.example"),
            ..Contact::default()
        };
        let body =
            json!({"first_name": contact.first, "last_name": contact.last, "email": contact.email});
        let path = format!("/api/v1/agencies/{agency}/contacts");
        let lookup = format!(
            "SELECT id FROM agency_contacts WHERE email_key = '{}'",
            contact.email
        );
        let id = self.create_once(&path, body, &lookup).await?;
        self.effect("turris_create_contact", id.is_some());
        if id.is_some() {
            self.world.contacts.insert(
                n,
                Contact {
                    turris_id: id,
                    ..contact
                },
            );
        }
        Ok(())
    }

    async fn turris_edit_contact(
        &mut self,
        n: usize,
        field: NameField,
        value: &str,
    ) -> Result<(), Error> {
        let hubspot = self
            .world
            .contacts
            .get(&n)
            .and_then(|c| c.hubspot_id.clone());
        let id = match self.contact_turris(n) {
            Some(id) => Some(id),
            None => self.linked(false, "agency_contact", hubspot).await?,
        };
        let Some(id) = id else {
            self.effect("turris_edit_contact", false);
            return Ok(());
        };
        let Some(c) = self.world.contacts.get_mut(&n) else {
            return Ok(());
        };
        c.turris_id = Some(id.clone());
        let mut body = json!({"first_name": c.first, "last_name": c.last, "email": c.email});
        body[match field {
            NameField::First => "first_name",
            NameField::Last => "last_name",
        }] = json!(value);
        let answer = self
            .api(Method::PUT, &format!("/api/v1/agency-contacts/{id}"), body)
            .await?;
        let ok = answer.status == 200;
        self.effect("turris_edit_contact", ok);
        if ok && let Some(c) = self.world.contacts.get_mut(&n) {
            c.wrote(field, value);
        }
        Ok(())
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
