//! Turris' side of the operations: agencies and agency contacts created and edited through the
//! public API of a running replica.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::Runner;
use crate::sim::Error;
use crate::sim::check::Side;
use crate::sim::ops::{Field, NameField, Op};
use crate::sim::world::Contact;

impl Runner {
    /// Carries out a Turris-side operation.
    pub(super) async fn turris_op(&mut self, op: &Op) -> Result<(), Error> {
        match op {
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
            _ => {}
        }
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
        // Saving the value Turris holds changes nothing there (the push leaves the field out):
        // not a write, so a HubSpot edit still on its way stays the last one.
        let holds = body[field.turris()].as_str() == Some(value);
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
        self.effect("turris_edit_agency", ok && !holds);
        if ok && !holds {
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
}
