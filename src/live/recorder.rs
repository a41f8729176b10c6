//! What a live call leaves behind — timeline events, transcript segments with the usage they measure, and the
//! call's final state — written by a task of its own, so the real-time loop never waits on SQLite.
//!
//! The session hands records to a bounded channel and goes on; the recorder writes them in the order they were
//! handed over. Ending the call goes through the same channel ([`Recorder::finish`]), so the final state is
//! written after everything the call recorded, and the session waits for that (at hang-up or shutdown) before it
//! lets go of the connection: nothing handed over is lost. Storage trouble is logged, never fatal to the call.

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::calls;
use crate::error::Reportable as _;
use crate::model::{CallStatus, NewUsage};
use crate::repo;
use crate::repo::calls::NewSegment;
use crate::repo::recordings::RecordingRow;
use crate::tenants::{Change, Tenant};

/// Records waiting to be written before the session waits for room (seconds of a busy call's worth).
const QUEUE: usize = 1024;

enum Record {
    Event {
        kind: &'static str,
        data: Value,
    },
    /// Transcript segments (a known seq replaces its segment) and the usage they measure, in one transaction.
    Segments {
        segments: Vec<NewSegment>,
        usage: Vec<NewUsage>,
    },
    /// The call's finished recording.
    Recording(RecordingRow),
    /// The call ended: its final state, after everything recorded before.
    End {
        status: CallStatus,
        reason: String,
    },
}

/// The session's handle on its call's recorder.
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    task: JoinHandle<()>,
}

impl Recorder {
    /// Starts recording call `call_id` of `tenant`.
    pub fn start(tenant: Tenant, call_id: String) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_all(tenant, call_id, rx));
        Self { tx, task }
    }

    /// Appends an event to the call's timeline.
    pub async fn event(&self, kind: &'static str, data: Value) {
        self.hand_over(Record::Event { kind, data }).await;
    }

    /// Stores transcript segments and usage (nothing to do when both are empty).
    pub async fn segments(&self, segments: Vec<NewSegment>, usage: Vec<NewUsage>) {
        if segments.is_empty() && usage.is_empty() {
            return;
        }
        self.hand_over(Record::Segments { segments, usage }).await;
    }

    /// Lists the call's finished recording.
    pub async fn recording(&self, row: RecordingRow) {
        self.hand_over(Record::Recording(row)).await;
    }

    async fn hand_over(&self, record: Record) {
        let record = match self.tx.try_send(record) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(record)) => record,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("call recorder stopped; a record was lost");
                return;
            }
        };
        // The database has fallen far behind: waiting here slows the call rather than dropping its record.
        tracing::warn!("call recorder queue full; waiting for storage");
        metrics::counter!("voxedge_call_recorder_waits_total").increment(1);
        if self.tx.send(record).await.is_err() {
            tracing::error!("call recorder stopped; a record was lost");
        }
    }

    /// Ends the call in `status` with `reason` once everything handed over is written, and waits until it is.
    pub async fn finish(self, status: CallStatus, reason: &str) {
        let reason = reason.to_string();
        self.hand_over(Record::End { status, reason }).await;
        let Self { tx, task } = self;
        drop(tx);
        if let Err(e) = task.await {
            tracing::error!(error = %e, "call recorder failed");
        }
    }
}

async fn write_all(tenant: Tenant, call_id: String, mut records: mpsc::Receiver<Record>) {
    while let Some(record) = records.recv().await {
        match record {
            Record::Event { kind, data } => {
                if let Err(e) = calls::record_event(&tenant, call_id.clone(), kind, data).await {
                    tracing::error!(kind, code = %e.code(), error = %e, "cannot record call event");
                }
            }
            Record::Segments { segments, usage } => {
                if let Err(e) = calls::add_segments(&tenant, call_id.clone(), segments, usage).await
                {
                    tracing::error!(code = %e.code(), error = %e, "cannot store transcript segments");
                }
            }
            Record::Recording(row) => {
                let stored = tenant
                    .commit(move |tx| {
                        repo::recordings::insert(tx, &row)?;
                        Ok::<_, crate::db::StorageError>(Change::quiet(()))
                    })
                    .await;
                if let Err(e) = stored {
                    tracing::error!(code = %e.code(), error = %e, "cannot list the call's recording");
                }
            }
            Record::End { status, reason } => {
                if let Err(e) = calls::transition(&tenant, call_id, status, Some(reason)).await {
                    tracing::error!(code = %e.code(), error = %e, "cannot end the call");
                }
                return;
            }
        }
    }
}
