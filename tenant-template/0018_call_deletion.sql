-- Deleting a call (`deleteCall`) erases what it said and who took part — transcript, timeline, analysis,
-- variables, numbers, metadata, recording — but keeps a tombstone of the call row: the usage ledger is
-- append-only and its rows name their call, so invoices and usage totals stay exactly what they were. Reads
-- skip tombstones.
alter table calls add column deleted_at integer;

-- Recordings are copied to the replica root (`ROOT/recordings/<tenant>/<file>`) after they are listed, and
-- removed from it before their row goes: `replicated_at` is null until the copy exists; `deleted_at` is set when
-- the recording is deleted (it is no longer served), and the row is removed once no copy is left anywhere.
alter table call_recordings add column replicated_at integer;
alter table call_recordings add column deleted_at integer;

create index call_recordings_unsettled on call_recordings (call_id)
    where replicated_at is null or deleted_at is not null;
