//! Batch read/create/update/upsert/archive, chunked by 100, with 207 results split.

use crate::version::Api;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::SimplePublicObject;
use super::associations::PublicObjectId;

/// HubSpot's limit of inputs per batch call.
pub const MAX_BATCH_INPUTS: usize = 100;

/// `{"inputs": [...]}`: the body of every batch call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchInput<T> {
    /// The inputs, at most [`MAX_BATCH_INPUTS`].
    pub inputs: Vec<T>,
}

/// Body of `POST /crm/v3/objects/{type}/batch/read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReadInput {
    /// Properties to return.
    pub properties: Vec<String>,
    /// Read by this unique property instead of the record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_property: Option<String>,
    /// The ids (or values of `id_property`).
    pub inputs: Vec<PublicObjectId>,
}

/// One input of a batch update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchUpdateInput {
    /// The record id (or value of `id_property`).
    pub id: String,
    /// Identify the record by this unique property instead of its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_property: Option<String>,
    /// Property values to set.
    pub properties: HashMap<String, String>,
}

/// One input of a batch create with a key of the caller's choosing (`objectWriteTraceId`).
///
/// HubSpot answers a batch create with its records in no particular order; each record repeats
/// the trace id of the input that made it, which is how results pair with inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TracedCreateInput {
    /// The record's properties and associations.
    #[serde(flatten)]
    pub input: SimplePublicObjectInputForCreate,
    /// The caller's key for this input, repeated on the record created from it.
    pub object_write_trace_id: String,
}

/// One input of a batch upsert: the record is found by `id_property` = `id`, or created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertInput {
    /// The value of `id_property` that identifies the record.
    pub id: String,
    /// A unique property (e.g. `email`, or a custom unique property).
    pub id_property: String,
    /// Property values to set.
    pub properties: HashMap<String, String>,
    /// The caller's key for this input, repeated on its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_write_trace_id: Option<String>,
}

/// A record returned by a batch upsert: the object, and whether it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpsertResult {
    /// The record.
    #[serde(flatten)]
    pub object: SimplePublicObject,
    /// `true` when the upsert created the record.
    #[serde(default)]
    pub new: bool,
}

/// Answer of a batch call (200, 201, or 207 multi-status with `errors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse<T> {
    /// `COMPLETE`, `PENDING`, `PROCESSING` or `CANCELED`.
    #[serde(default)]
    pub status: String,
    /// The successful results.
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
    /// Per-input failures of a 207 answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<BatchError>,
    /// Number of errors (207 answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_errors: Option<u32>,
    /// When HubSpot started the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When HubSpot finished the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// One failure inside a 207 batch answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchError {
    /// Always `error`.
    #[serde(default)]
    pub status: String,
    /// Error category (`OBJECT_NOT_FOUND`, `VALIDATION_ERROR`, ...).
    #[serde(default)]
    pub category: String,
    /// What went wrong.
    #[serde(default)]
    pub message: String,
    /// Sub-category, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<serde_json::Value>,
    /// Context; `ids` names the inputs this error is about.
    #[serde(default)]
    pub context: HashMap<String, Vec<String>>,
}

impl BatchError {
    /// The input ids this error is about (`context.ids`).
    pub fn ids(&self) -> &[String] {
        self.context.get("ids").map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Combined outcome of a batch call over any number of inputs.
#[derive(Debug)]
pub struct BatchOutcome<T> {
    /// Every successful result, in chunk order.
    pub results: Vec<T>,
    /// Every per-input failure reported in 207 answers.
    pub errors: Vec<BatchError>,
    /// Chunks that failed as a whole: the range of input indices and the error.
    pub failed_chunks: Vec<ChunkFailure>,
    /// Chunks HubSpot answered: the range of input indices and the answer's correlation id.
    pub answered: Vec<ChunkAnswer>,
}

/// A chunk HubSpot answered (2xx or 207).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkAnswer {
    /// Indices of the inputs (into the caller's slice) of this chunk.
    pub inputs: std::ops::Range<usize>,
    /// HubSpot's correlation id of the answer, to quote to HubSpot support.
    pub correlation_id: Option<String>,
}

impl<T> Default for BatchOutcome<T> {
    fn default() -> Self {
        BatchOutcome {
            results: Vec::new(),
            errors: Vec::new(),
            failed_chunks: Vec::new(),
            answered: Vec::new(),
        }
    }
}

impl<T> BatchOutcome<T> {
    /// Whether every input succeeded.
    pub fn is_complete_success(&self) -> bool {
        self.errors.is_empty() && self.failed_chunks.is_empty()
    }
}

/// A chunk of inputs HubSpot refused (or never saw) as a whole.
#[derive(Debug)]
pub struct ChunkFailure {
    /// Indices of the inputs (into the caller's slice) of this chunk.
    pub inputs: std::ops::Range<usize>,
    /// Why the chunk failed.
    pub error: crate::Error,
}

use crate::client::ApiRequest;
use crate::{Error, HubSpotClient, Result};
use http::Method;
use serde::de::DeserializeOwned;

use super::{ObjectType, SimplePublicObjectInputForCreate};

impl HubSpotClient {
    /// `POST /crm/v3/objects/{type}/batch/read`, chunked by 100.
    pub async fn batch_read(
        &self,
        object: &ObjectType,
        ids: &[String],
        properties: &[&str],
        id_property: Option<&str>,
    ) -> BatchOutcome<SimplePublicObject> {
        let path = self.path(Api::Objects, format!("/{object}/batch/read"));
        self.batch(BatchKind::Read, &path, ids, |chunk| BatchReadInput {
            properties: properties.iter().map(|p| (*p).to_owned()).collect(),
            id_property: id_property.map(str::to_owned),
            inputs: chunk.iter().map(|id| id.clone().into()).collect(),
        })
        .await
    }

    /// `POST /crm/v3/objects/{type}/batch/create`, chunked by 100.
    pub async fn batch_create(
        &self,
        object: &ObjectType,
        inputs: &[SimplePublicObjectInputForCreate],
    ) -> BatchOutcome<SimplePublicObject> {
        self.batch_inputs(BatchKind::Create, object, inputs).await
    }

    /// `POST /crm/v3/objects/{type}/batch/create`, chunked by 100, each input keyed by its
    /// `objectWriteTraceId` so every created record
    /// ([`SimplePublicObject::object_write_trace_id`]) pairs with the input that made it.
    ///
    /// Not retried after a timeout (HubSpot may have created the records).
    pub async fn batch_create_traced(
        &self,
        object: &ObjectType,
        inputs: &[TracedCreateInput],
    ) -> BatchOutcome<SimplePublicObject> {
        self.batch_inputs(BatchKind::Create, object, inputs).await
    }

    /// `POST /crm/v3/objects/{type}/batch/update`, chunked by 100.
    pub async fn batch_update(
        &self,
        object: &ObjectType,
        inputs: &[BatchUpdateInput],
    ) -> BatchOutcome<SimplePublicObject> {
        self.batch_inputs(BatchKind::Update, object, inputs).await
    }

    /// `POST /crm/v3/objects/{type}/batch/upsert`, chunked by 100.
    pub async fn batch_upsert(
        &self,
        object: &ObjectType,
        inputs: &[UpsertInput],
    ) -> BatchOutcome<UpsertResult> {
        self.batch_inputs(BatchKind::Upsert, object, inputs).await
    }

    /// `POST /crm/v3/objects/{type}/batch/archive`, chunked by 100.
    pub async fn batch_archive(&self, object: &ObjectType, ids: &[String]) -> BatchOutcome<()> {
        let path = self.path(Api::Objects, format!("/{object}/batch/archive"));
        let mut outcome = BatchOutcome::default();
        for (index, chunk) in ids.chunks(MAX_BATCH_INPUTS).enumerate() {
            let start = index * MAX_BATCH_INPUTS;
            let body = BatchInput {
                inputs: chunk
                    .iter()
                    .map(|id| PublicObjectId::from(id.clone()))
                    .collect::<Vec<_>>(),
            };
            let result = match ApiRequest::new(Method::POST, path.clone())
                .idempotent()
                .json(&body)
            {
                Ok(req) => self.send_empty(req).await,
                Err(e) => Err(e),
            };
            if let Err(error) = result {
                let fatal = is_fatal(&error);
                outcome.failed_chunks.push(ChunkFailure {
                    inputs: start..start + chunk.len(),
                    error,
                });
                if fatal {
                    skip_rest(&mut outcome, start + chunk.len(), ids.len());
                    break;
                }
            }
        }
        outcome
    }

    /// `POST /crm/v3/objects/{type}/batch/{operation}` with `{"inputs": [...]}` bodies, chunked
    /// by 100.
    async fn batch_inputs<I, T>(
        &self,
        kind: BatchKind,
        object: &ObjectType,
        inputs: &[I],
    ) -> BatchOutcome<T>
    where
        I: Clone + serde::Serialize,
        T: DeserializeOwned,
    {
        let path = self.path(
            Api::Objects,
            format!("/{object}/batch/{}", kind.operation()),
        );
        self.batch(kind, &path, inputs, |chunk| BatchInput {
            inputs: chunk.to_vec(),
        })
        .await
    }

    /// Sends each input of a refused chunk alone: its successes join the results, and each
    /// input refused again is a one-input [`ChunkFailure`] whose error names its property.
    async fn isolate<I, B, T>(
        &self,
        path: &str,
        chunk: &[I],
        start: usize,
        body: &impl Fn(&[I]) -> B,
        outcome: &mut BatchOutcome<T>,
    ) where
        B: serde::Serialize,
        T: DeserializeOwned,
    {
        for (offset, input) in chunk.iter().enumerate() {
            let index = start + offset;
            let result: Result<(BatchResponse<T>, _)> = match ApiRequest::new(Method::POST, path)
                .json(&body(std::slice::from_ref(input)))
            {
                Ok(req) => self.send_json_traced(req).await,
                Err(e) => Err(e),
            };
            match result {
                Ok((response, correlation_id)) => {
                    outcome.results.extend(response.results);
                    outcome.errors.extend(response.errors);
                    outcome.answered.push(ChunkAnswer {
                        inputs: index..index + 1,
                        correlation_id,
                    });
                }
                Err(error) => outcome.failed_chunks.push(ChunkFailure {
                    inputs: index..index + 1,
                    error,
                }),
            }
        }
    }

    /// Sends `inputs` in chunks of 100 to `path` and combines the answers. A 207 answer's
    /// `errors` become per-input failures; a chunk refused as a whole is a [`ChunkFailure`].
    /// After an error no later call can fix (daily limit, dead token) the rest is not sent.
    async fn batch<I, B, T>(
        &self,
        kind: BatchKind,
        path: &str,
        inputs: &[I],
        body: impl Fn(&[I]) -> B,
    ) -> BatchOutcome<T>
    where
        B: serde::Serialize,
        T: DeserializeOwned,
    {
        let mut outcome = BatchOutcome::default();
        for (index, chunk) in inputs.chunks(MAX_BATCH_INPUTS).enumerate() {
            let start = index * MAX_BATCH_INPUTS;
            let result: Result<(BatchResponse<T>, _)> = match ApiRequest::new(Method::POST, path)
                .idempotent_if(kind != BatchKind::Create)
                .json(&body(chunk))
            {
                Ok(req) => self.send_json_traced(req).await,
                Err(e) => Err(e),
            };
            match result {
                Ok((response, correlation_id)) => {
                    outcome.results.extend(response.results);
                    outcome.errors.extend(response.errors);
                    outcome.answered.push(ChunkAnswer {
                        inputs: start..start + chunk.len(),
                        correlation_id,
                    });
                }
                Err(error) if chunk.len() > 1 && is_validation(&error) => {
                    // One record broke the portal's rules (2026-09): the others are fine.
                    // Each input alone, so each failure is its own and names its property.
                    self.isolate(path, chunk, start, &body, &mut outcome).await;
                }
                Err(error) => {
                    let fatal = is_fatal(&error);
                    outcome.failed_chunks.push(ChunkFailure {
                        inputs: start..start + chunk.len(),
                        error,
                    });
                    if fatal {
                        skip_rest(&mut outcome, start + chunk.len(), inputs.len());
                        break;
                    }
                }
            }
        }
        outcome
    }
}

/// Errors after which sending more chunks is pointless.
/// Whether HubSpot refused a batch for what some of its records hold (400 `VALIDATION_ERROR`
/// naming a property, as the portal's own rules do on every write from API version 2026-09),
/// so the other records may go through alone. A refusal that names no property, or only
/// properties the portal lacks, would refuse every record alike.
fn is_validation(error: &Error) -> bool {
    error.hubspot().is_some_and(|e| {
        e.validation_failures()
            .iter()
            .any(|f| f.property.is_some() && f.code.as_deref() != Some("PROPERTY_DOESNT_EXIST"))
    })
}

fn is_fatal(error: &Error) -> bool {
    matches!(
        error,
        Error::DailyLimit { .. }
            | Error::DailyLimitBlocked { .. }
            | Error::RefreshTokenRevoked { .. }
            | Error::TokenSink(_)
    ) || matches!(error.status(), Some(401 | 403))
}

fn skip_rest<T>(outcome: &mut BatchOutcome<T>, from: usize, to: usize) {
    if from < to {
        outcome.failed_chunks.push(ChunkFailure {
            inputs: from..to,
            error: Error::Config("not sent: an earlier chunk failed for good".to_owned()),
        });
    }
}

/// Which batch call: all but `Create` may be sent again safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchKind {
    Read,
    Create,
    Update,
    Upsert,
}

impl BatchKind {
    /// The operation's segment in the batch path.
    fn operation(self) -> &'static str {
        match self {
            BatchKind::Read => "read",
            BatchKind::Create => "create",
            BatchKind::Update => "update",
            BatchKind::Upsert => "upsert",
        }
    }
}
