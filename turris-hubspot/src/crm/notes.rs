//! Notes (`/crm/v3/objects/notes`), created associated to contacts and companies.

use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

use super::associations::{
    AssociationSpec, NOTE_TO_COMPANY, NOTE_TO_CONTACT, PublicAssociationsForObject,
};
use super::{ObjectType, SimplePublicObject, SimplePublicObjectInputForCreate};
use crate::{HubSpotClient, Result};

/// A note to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNote {
    /// `hs_note_body` (HTML allowed).
    pub body: String,
    /// `hs_timestamp`: when the activity happened.
    pub timestamp: DateTime<Utc>,
    /// Contacts to attach the note to (type 202).
    pub contact_ids: Vec<String>,
    /// Companies to attach the note to (type 190).
    pub company_ids: Vec<String>,
}

impl NewNote {
    /// The create body HubSpot expects.
    pub fn to_input(&self) -> SimplePublicObjectInputForCreate {
        let mut properties = HashMap::new();
        properties.insert("hs_note_body".to_owned(), self.body.clone());
        properties.insert(
            "hs_timestamp".to_owned(),
            self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        let to = |ids: &[String], type_id| {
            ids.iter()
                .map(move |id| PublicAssociationsForObject {
                    to: id.clone().into(),
                    types: vec![AssociationSpec::hubspot_defined(type_id)],
                })
                .collect::<Vec<_>>()
        };
        let mut associations = to(&self.contact_ids, NOTE_TO_CONTACT);
        associations.extend(to(&self.company_ids, NOTE_TO_COMPANY));
        SimplePublicObjectInputForCreate {
            properties,
            associations,
        }
    }
}

impl HubSpotClient {
    /// `POST /crm/v3/objects/notes` with `hs_note_body`, `hs_timestamp` and associations.
    pub async fn create_note(&self, note: &NewNote) -> Result<SimplePublicObject> {
        self.create_object(&ObjectType::Notes, &note.to_input())
            .await
    }
}
