#!/bin/sh
# datumfs container entrypoint: mounts the execution's on-demand inputs, runs the job, and
# unmounts when the job ends.
#
#   docker run --device /dev/fuse --cap-add SYS_ADMIN -v /valohai:/valohai IMAGE python train.py
#
# `datumfs mount` takes its options from DATUMFS_* variables (DATUMFS_INPUTS, DATUMFS_API,
# DATUMFS_MOUNTPOINT, DATUMFS_CACHE_DIR, DATUMFS_CACHE_MAX, ...; see datumfs(1)); the defaults
# are Valohai's paths. It returns once the tree is visible. The job then runs as a child, so
# that the mount can be taken away when it ends; SIGTERM, SIGINT and SIGHUP are passed on to
# it, and the entrypoint exits with the job's status.
set -eu

if [ "$#" -eq 0 ]; then
  echo "datumfs-entrypoint: no command to run (usage: datumfs-entrypoint COMMAND [ARG]...)" >&2
  exit 2
fi
mountpoint="${DATUMFS_MOUNTPOINT:-/valohai/inputs}"
export DATUMFS_MOUNTPOINT="$mountpoint"
mkdir -p "$mountpoint"
datumfs mount

unmount() {
  fusermount3 -u "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true
}

# <&0: an asynchronous command's stdin would otherwise be /dev/null (docker run -it).
"$@" <&0 &
job=$!
trap 'kill -s TERM "$job" 2>/dev/null || true' TERM INT HUP
status=0
wait "$job" || status=$?
# A trapped signal ends `wait` early: wait for the job itself to finish.
while kill -0 "$job" 2>/dev/null; do
  status=0
  wait "$job" || status=$?
done
unmount
exit "$status"
