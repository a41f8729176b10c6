-- Call recordings: the audio file lives beside the tenant database (`recordings/<tenant>/<call>.flac`, see
-- src/recordings); this row says it is complete. Written when the call's recording is finalised; deleted with
-- the file by the retention job.
create table call_recordings (
    call_id     text primary key references calls (id),
    file_name   text not null,
    duration_ms integer not null,
    size_bytes  integer not null,
    created_at  integer not null
) strict;

create index call_recordings_by_created on call_recordings (created_at);
