#!/usr/bin/env bash
# Makes the runner's container path (testcontainers) testable on a machine with no image
# registry: starts a Docker engine if none answers, then builds two small images FROM scratch
# out of this machine's own Postgres and Redis binaries.
#
#   kata-postgres:15-local  stands in for postgres:17.6-alpine (the official image's interface
#                           as the harness uses it: POSTGRES_PASSWORD, superuser `postgres`,
#                           port 5432 on all addresses with scram-sha-256 for TCP clients,
#                           CMD `postgres -c ...`, "database system is ready to accept
#                           connections" on stderr)
#   kata-redis:7-local      stands in for redis:7.4-alpine (port 6379 reachable from outside,
#                           CMD `redis-server ...`, "Ready to accept connections" on stdout)
#
# Usage (as root, Debian 12; idempotent: installs only missing packages, starts dockerd only if
# no engine answers, rebuilds an image only when it is missing or this script changed):
#
#   sudo bash .ci/images.sh
#   KATA_POSTGRES_IMAGE=kata-postgres:15-local KATA_REDIS_IMAGE=kata-redis:7-local \
#     cargo xtask check
#
# It prints nothing on stdout but progress; the caller sets the two variables (see .ci/run).
# The engine started here keeps running (log: /tmp/dockerd.log; its pid in
# /tmp/kata-dockerd.pid, for the caller to stop it); vfs storage and no iptables, so it also
# works inside a VM or container without overlayfs or netfilter.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
POSTGRES_TAG=kata-postgres:15-local
REDIS_TAG=kata-redis:7-local
# Non-root account inside both images (initdb and postgres refuse root).
APP_UID=999

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
log() { echo "images.sh: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "run me as root"; exit 1; }

work=$(mktemp -d /tmp/kata-images.XXXXXX)
policy_added=
cleanup() {
  rm -rf "$work"
  [ -z "$policy_added" ] || rm -f /usr/sbin/policy-rc.d
}
trap cleanup EXIT

# --- 1. Packages: only what is missing. ------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || missing+=(docker.io)
[ -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  # Keep apt from starting the packages' services (we start only what we need, our way).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

# --- 2. A Docker engine. ----------------------------------------------------------------------
if ! docker version >/dev/null 2>&1; then
  log "starting dockerd (log: /tmp/dockerd.log)"
  setsid dockerd --iptables=false --ip6tables=false --storage-driver=vfs \
    </dev/null >/tmp/dockerd.log 2>&1 &
  dockerd_pid=$!
  # Whoever called this script stops the engine it started (.ci/run does, on exit).
  echo "$dockerd_pid" >/tmp/kata-dockerd.pid
  for _ in $(seq 1 120); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { log "dockerd exited:"; tail -n 20 /tmp/dockerd.log >&2; exit 1; }
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { log "dockerd did not answer within 60 s:"; tail -n 20 /tmp/dockerd.log >&2; exit 1; }
fi

# --- 3. Images. --------------------------------------------------------------------------------
# An image is rebuilt when this script or the packaged binaries change.
fingerprint=$(
  {
    cat "${BASH_SOURCE[0]}"
    dpkg-query -W -f '${Package} ${Version}\n' "postgresql-$PG_MAJOR" redis-server dash libc6 2>/dev/null || true
  } | sha256sum | cut -c1-16
)

up_to_date() {
  [ "$(docker image inspect -f '{{index .Config.Labels "kata.fingerprint"}}' "$1" 2>/dev/null)" = "$fingerprint" ]
}

# new_root DIR: an empty root with the host's merged-/usr layout, /tmp (1777), /etc basics.
new_root() {
  local root=$1 d
  mkdir -p "$root"/{etc,tmp,usr/bin,usr/sbin,usr/lib,usr/local/bin}
  for d in bin sbin lib lib64; do
    if [ -L "/$d" ]; then ln -sfn "$(readlink "/$d")" "$root/$d"; else mkdir -p "$root/$d"; fi
  done
  chmod 1777 "$root/tmp"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# add ROOT PATH...: copies each file (symlinks followed) to the same place under ROOT.
add() {
  local root=$1 p dir
  shift
  for p in "$@"; do
    dir=$(readlink -f "$(dirname "$p")")
    [ -e "$root$dir/$(basename "$p")" ] && continue
    mkdir -p "$root$dir"
    cp -L --preserve=mode "$p" "$root$dir/$(basename "$p")"
  done
}

# add_elf ROOT FILE...: the files plus every shared library they need and the dynamic loader.
add_elf() {
  local root=$1
  shift
  add "$root" "$@"
  # ldd prints "name => /path (addr)" and "/lib64/ld-linux... (addr)"; skip vdso and "not found".
  local libs
  libs=$(for f in "$@"; do ldd "$f" 2>/dev/null || true; done |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
  # shellcheck disable=SC2086
  [ -z "$libs" ] || add "$root" $libs
}

# build TAG ROOT CHANGE...: the image is ROOT as its only layer (owners and modes as staged
# here) plus the CHANGE instructions, i.e. `FROM scratch` + `ADD rootfs.tar /` + metadata.
# `docker import` rather than `docker build`: the legacy builder commits an intermediate
# container per instruction, ~1 s each on vfs; import is one step (~0.2 s).
build() {
  local tag=$1 root=$2 started=$SECONDS change=() c old
  shift 2
  old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
  for c in "$@" "LABEL kata.fingerprint=$fingerprint"; do change+=(--change "$c"); done
  tar -C "$root" --numeric-owner -c . | docker import "${change[@]}" - "$tag" >/dev/null
  rm -rf "$root"
  # The outdated image, unless a container still uses it.
  [ -z "$old" ] || docker image rm "$old" >/dev/null 2>&1 || true
  log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'), $((SECONDS - started)) s)"
}

build_postgres() {
  local root=$work/postgres
  local bin=/usr/lib/postgresql/$PG_MAJOR/bin lib=/usr/lib/postgresql/$PG_MAJOR/lib
  local share=/usr/share/postgresql/$PG_MAJOR
  new_root "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:%s:%s:PostgreSQL:/var/lib/postgresql:/bin/sh\n' \
    "$APP_UID" "$APP_UID" >"$root/etc/passwd"
  printf 'root:x:0:\npostgres:x:%s:\n' "$APP_UID" >"$root/etc/group"
  # Every extension library but the JIT (LLVM alone would be ~100 MB); postgres runs without it.
  local modules=()
  mapfile -t modules < <(find "$lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' | sort)
  # initdb runs `locale -a` to import the system's collations (C.utf8 here).
  add_elf "$root" "$bin/postgres" "$bin/initdb" /bin/dash /bin/rm /usr/bin/locale "${modules[@]}"
  if [ -d /usr/lib/locale/C.utf8 ]; then
    mkdir -p "$root/usr/lib/locale" && cp -a /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
  fi
  ln -s dash "$root/bin/sh"
  mkdir -p "$root$share"
  cp -a "$share/." "$root$share/"
  rm -rf "$root$share/man"
  # Postgres uses the system time zone data; UTC and its aliases are enough here.
  mkdir -p "$root/usr/share/zoneinfo"
  cp -a /usr/share/zoneinfo/{UTC,GMT,Etc} "$root/usr/share/zoneinfo/"
  mkdir -p "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chown -R "$APP_UID:$APP_UID" "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chmod 2777 "$root/var/run/postgresql"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# First start: initdb into $PGDATA (superuser $POSTGRES_USER, password $POSTGRES_PASSWORD,
# scram-sha-256 for every TCP client), then run the given command on $PGDATA on all addresses.
set -eu
case "${1:-}" in -*) set -- postgres "$@" ;; esac
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "Error: the database is uninitialized and POSTGRES_PASSWORD is not set." >&2
    exit 1
  fi
  pwfile=/tmp/.pwfile
  pwarg=
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    pwarg=--pwfile=$pwfile
  fi
  initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" ${pwarg:+"$pwarg"} -E UTF8 --locale=C \
    --auth-local=trust --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" --no-instructions
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
  echo "PostgreSQL init process complete; ready for start up."
fi
if [ "${1:-}" = postgres ]; then
  shift
  # Ours first: a -c given by the caller comes later and wins.
  exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  # (The official image's STOPSIGNAL SIGINT cannot be set by import; the harness removes its
  # containers with SIGKILL anyway.)
  build "$POSTGRES_TAG" "$root" \
    "ENV PATH=$bin:/usr/local/bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data TZ=UTC LC_ALL=C" \
    "USER postgres" \
    "EXPOSE 5432" \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    'CMD ["postgres"]'
}

build_redis() {
  local root=$work/redis
  new_root "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\nredis:x:%s:%s:Redis:/data:/bin/sh\n' "$APP_UID" "$APP_UID" >"$root/etc/passwd"
  printf 'root:x:0:\nredis:x:%s:\n' "$APP_UID" >"$root/etc/group"
  add_elf "$root" /bin/dash
  ln -s dash "$root/bin/sh"
  # Debian's redis-server is a symlink to redis-check-rdb; the binary picks its role from argv[0].
  add_elf "$root" "$(readlink -f "$(command -v redis-server)")"
  ln -s "$(basename "$(readlink -f "$(command -v redis-server)")")" "$root/usr/bin/redis-server"
  mkdir -p "$root/data"
  chown "$APP_UID:$APP_UID" "$root/data"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Like the official image: no config file given, so drop protected mode (Redis 7 then binds
# every address) and clients from outside the container can connect.
set -eu
case "${1:-}" in -*) set -- redis-server "$@" ;; esac
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server "$@" --protected-mode no
fi
exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  build "$REDIS_TAG" "$root" \
    "ENV PATH=/usr/local/bin:/usr/bin:/bin" \
    "USER redis" \
    "WORKDIR /data" \
    "EXPOSE 6379" \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    'CMD ["redis-server"]'
}

up_to_date "$POSTGRES_TAG" || build_postgres
up_to_date "$REDIS_TAG" || build_redis
log "ready: KATA_POSTGRES_IMAGE=$POSTGRES_TAG KATA_REDIS_IMAGE=$REDIS_TAG"
