//! HubSpot's side of the operations: what a person does in HubSpot, through the sandbox's
//! control API.

use turris_hubspot_sandbox::ObjectKind;

use super::Runner;
use crate::sim::Error;
use crate::sim::check::Side;
use crate::sim::ops::{Field, NameField, Op};
use crate::sim::world::Contact;

impl Runner {
    /// Carries out a HubSpot-side operation.
    pub(super) async fn hubspot_op(&mut self, op: &Op) -> Result<(), Error> {
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
            } => self.hs_edit_contact(*contact, *field, value).await?,
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
            _ => {}
        }
        Ok(())
    }

    async fn hs_edit_contact(
        &mut self,
        contact: usize,
        field: NameField,
        value: &str,
    ) -> Result<(), Error> {
        let id = self
            .world
            .contacts
            .get(&contact)
            .and_then(|c| c.hubspot_id.clone());
        let id = match id {
            Some(id) => Some(id),
            None => {
                self.linked(true, "agency_contact", self.contact_turris(contact))
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
                .update_record(ObjectKind::Contacts, &id, [(property, value)])
                .is_ok();
            self.effect("hs_edit_contact", ok);
            if ok {
                let c = self.world.contacts.entry(contact).or_default();
                c.hubspot_id = Some(id);
                c.wrote(field, value);
            }
        }
        Ok(())
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
        // Setting the value HubSpot holds changes nothing there (no event, no new timestamp):
        // not a write, so a Turris edit still on its way stays the last one.
        let holds = self
            .control
            .record(ObjectKind::Companies, &id)
            .is_some_and(|r| r.properties.get(field.property()).map(String::as_str) == Some(value));
        let ok = self
            .control
            .update_record(ObjectKind::Companies, &id, [(field.property(), value)])
            .is_ok();
        self.effect("hs_edit_company", ok && !holds);
        if ok && !holds {
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
}
