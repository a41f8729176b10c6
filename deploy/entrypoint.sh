#!/usr/bin/env bash
# The release image's entrypoint: runs `voxedge ARGS` (default `serve`) under Litestream when a replica is
# configured (see deploy/litestream-config for the variables), plain otherwise.
#
# Under Litestream, voxedge leaves WAL checkpoints to it (VOXEDGE_WAL_AUTOCHECKPOINT=0 unless set): a checkpoint
# Litestream has not seen would lose changes from the replica. Litestream runs voxedge as its child (`-exec`),
# passes SIGTERM on to it, ships the last changes once it has drained, and exits with its status. voxedge reads
# the same replicas (VOXEDGE_REPLICA_URL, unless set): other regions follow the primary's catalog from it, moves
# and point-in-time restores read tenants from it. On a fresh volume (no catalog, no region.db, no tenant) the
# region's data is first restored from the replica (`voxedge restore --from-replica`), so a replaced machine
# comes back with every tenant it had.
#
#   VOXEDGE_BIN, LITESTREAM_BIN   the executables (default: voxedge, litestream on PATH)
#   LITESTREAM_CONFIG             where the rendered configuration goes (default /tmp/litestream.yml)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
voxedge=${VOXEDGE_BIN:-voxedge}
litestream=${LITESTREAM_BIN:-litestream}
data=${VOXEDGE_DATA_DIR:-/data}
[ $# -gt 0 ] || set -- serve

# Directory replication watches tenants/, so it must exist before Litestream starts (voxedge creates the
# catalog itself; Litestream picks it up when it appears).
mkdir -p "$data/tenants"

config=${LITESTREAM_CONFIG:-/tmp/litestream.yml}
status=0
"$here/litestream-config" >"$config.tmp" || status=$?
case $status in
  0)
    mv "$config.tmp" "$config"
    export VOXEDGE_WAL_AUTOCHECKPOINT=${VOXEDGE_WAL_AUTOCHECKPOINT:-0}
    VOXEDGE_REPLICA_URL=${VOXEDGE_REPLICA_URL:-$("$here/litestream-config" --replica-url)}
    export VOXEDGE_REPLICA_URL VOXEDGE_LITESTREAM=${VOXEDGE_LITESTREAM:-$litestream}
    if [ "$1" = serve ] && [ ! -e "$data/catalog.db" ] && [ ! -e "$data/region.db" ] &&
      [ -z "$(find "$data/tenants" -maxdepth 1 -name '*.db' -print -quit)" ]; then
      echo "entrypoint: fresh data directory; restoring this region's data from the replica" >&2
      "$voxedge" --data-dir "$data" restore --from-replica --if-replica-exists >&2
    fi
    echo "entrypoint: replicating $data with Litestream ($config)" >&2
    # -exec takes one command line; voxedge's arguments here are flags and values without spaces.
    exec "$litestream" replicate -config "$config" -exec "$voxedge $*"
    ;;
  3)
    rm -f "$config.tmp"
    echo "entrypoint: no Litestream replica configured; $data is not backed up" >&2
    exec "$voxedge" "$@"
    ;;
  *)
    rm -f "$config.tmp"
    exit "$status"
    ;;
esac
