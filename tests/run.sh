#!/usr/bin/env bash
# The test command (README.md): installs what the tests need on a Debian machine, as root, then
# runs the whole suite. Extra arguments go to `cargo test` (`bash tests/run.sh --test shell`).
#
# util-linux: setsid, setpriv, unshare; bsdutils: script (a real pseudo-terminal for typed
# confirmations); mount: tmpfs for cross-filesystem snapshots; openssl: fast sha256 to compare
# trees; xfsprogs: an XFS loop image, where snapshots are reflinks; dpkg, apt: the apt guard's
# tests build, install and purge small .deb packages with the real tools; postgresql: the
# database guard's tests start their own cluster; redis-server, redis-tools: the redis-cli
# guard's tests start their own server on a socket; mariadb-server, mariadb-client: the mysql
# guard's tests start their own mariadbd on a socket; openssh-server, openssh-client, rsync:
# the guarded shell's tests log in over ssh (scp, sftp, rsync) to a test user whose login shell
# it is, and rsync's effects are tested for real; git, findutils, tar: the effects oracle runs
# git clean, find and tar for real; procps: ps, for a test's diagnostics; patroni,
# etcd-server, python3-etcd, curl: tests/cluster/patroni.sh starts a real two-member Patroni
# cluster; pacemaker-cli-utils: crm_mon, crm_standby and crm_simulate on a CIB file; lintian:
# tests/deb.rs checks the package it builds (with cargo-deb, installed below); rsyslog,
# systemd: the audit goes to a real rsyslogd and to systemd-journald read back with
# journalctl; zsh, fish: `gardefou init zsh|fish` is tested in the real interactive shells;
# busybox-static, make, perl, python3: the read-only net is tested against a static binary, make
# recipes and interpreters; clang, libclang-dev: the pg_query crate builds libpg_query
# (PostgreSQL's parser, in C) and generates its bindings with bindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/run.sh: the tests run as root (they start servers, mount filesystems and install packages)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends util-linux bsdutils coreutils findutils tar mount openssl xfsprogs dpkg apt git postgresql postgresql-client redis-server redis-tools mariadb-server mariadb-client openssh-server openssh-client rsync procps patroni etcd-server python3-etcd curl pacemaker-cli-utils lintian rsyslog systemd zsh fish busybox-static make perl python3 clang libclang-dev ca-certificates >/dev/null
if ! command -v cargo >/dev/null; then
  apt-get install -y -qq --no-install-recommends cargo rustc gcc libc6-dev >/dev/null
fi
command -v cargo-deb >/dev/null || cargo install cargo-deb --version 3.8.0 --locked --quiet
exec cargo test --locked "$@"
