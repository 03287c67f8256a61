#!/usr/bin/env bash
# Loads the demo scenario (tests/fixtures/demo/, described in its README.md)
# into a running Stockade server, through the same ingestion API that Falco,
# the audit webhook and other tools use.
#
# usage: scripts/demo-load.sh URL DB [DATA_DIR]
#   URL       the server, e.g. http://127.0.0.1:8080
#   DB        its database (for `stockade token create`)
#   DATA_DIR  where the loader keeps its state (default: the folder of DB)
#   STOCKADE_BIN  the stockade binary (default build/release/stockade)
#
# What it does, in order:
#  1. an API token (alerts:read, alerts:manage) named demo-loader, created
#     with the CLI the first time and kept in DATA_DIR/demo-load.state (0600);
#  2. the fixtures' time placeholders are replaced relative to a base time
#     (the moment of the first load), so the demo always looks recent:
#       @T-N@ / @T-N.F@   RFC 3339 UTC, N seconds before the base; F is the
#                         fraction as written (9 digits as Falco writes it,
#                         6 as the API server does); none gives .000000000
#       @O-N.F@           the same with "+0000", as Falco's output text starts
#       @NS-N.F@          integer nanoseconds (Falco's evt.time); written as
#                         a JSON string "@NS-...@" it becomes a bare number
#  3. every fixture NN-CLUSTER-KIND.json|ndjson is posted in file-name order to
#     /api/v1/alerts (KIND alerts), /api/v1/ingest/k8s-audit,
#     /api/v1/ingest/falco, /api/v1/inventory (KIND inventory) or
#     /api/v1/ingest/trivy (KIND trivy) with ?cluster=CLUSTER; anything but
#     200 stops the load with the server's message;
#  4. the Cloud SQL instance orders-db is marked a critical asset;
#  5. one summary line.
#
# Idempotent: the base time is computed once and kept in the state file, so
# a second run sends byte-identical events, which the server recognises
# (ingestion is idempotent by event identity: auditID, Falco time+rule+
# output, alert id) and stores nothing new; the asset is marked only when it
# is not critical yet. A second run also completes a load that was cut short.
# When the state file is lost but the database already holds the demo, the
# loader says so and loads nothing (the original base time is unknown); when
# the state file outlives its database (the token no longer works and the
# demo is absent), a new base time is taken.
#
# Needs only bash, curl and perl-base (POSIX); no python, node or jq.
# shellcheck disable=SC2016 # perl code in single quotes: $ is perl's
set -euo pipefail

die() {
    echo "demo-load: $*" >&2
    exit 1
}

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    die "usage: $0 URL DB [DATA_DIR]"
fi
url=${1%/}
db=$2
data_dir=${3:-$(dirname "$db")}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${STOCKADE_BIN:-$root/build/release/stockade}
fixtures=$root/tests/fixtures/demo
state=$data_dir/demo-load.state
marker_pod=web-7f9c6d8b5-x2kqp
critical_key=cloud-resource:gcp/projects/acme-prod/instances/orders-db
critical_name=orders-db

command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
command -v perl >/dev/null || die "perl is missing (Debian's perl-base)"
[ -x "$bin" ] || die "$bin is not an executable (set STOCKADE_BIN)"
[ -d "$fixtures" ] || die "$fixtures is missing"
mkdir -p "$data_dir"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- JSON, with perl-base only ---------------------------------------------
# A small JSON reader (objects, arrays, strings, numbers, literals) so that
# answers are read by structure, not by key order or spacing. `json EXPR FILE`
# runs perl code with $d bound to the decoded document.
json_pl='
our $J;
sub jd { local $J = shift; pos($J) = 0; my $v = jv(); $J =~ /\G\s*/gc;
    die "trailing text in JSON\n" if pos($J) < length $J; return $v }
sub js { return undef unless $J =~ /\G"((?:[^"\\]++|\\.)*+)"/gc; my $s = $1;
    my %e = (n => "\n", t => "\t", r => "\r", b => "\b", f => "\f");
    $s =~ s{\\(?:u([0-9a-fA-F]{4})|(.))}{defined $1 ? chr(hex $1) : ($e{$2} // $2)}ge;
    return $s }
sub jv {
    $J =~ /\G\s*/gc;
    if ($J =~ /\G\{/gc) {
        my %h; $J =~ /\G\s*/gc; return \%h if $J =~ /\G\}/gc;
        for (;;) {
            $J =~ /\G\s*/gc; my $k = js(); die "bad JSON object key\n" unless defined $k;
            $J =~ /\G\s*:/gc or die "expected : in JSON\n"; $h{$k} = jv();
            $J =~ /\G\s*/gc; next if $J =~ /\G,/gc; last if $J =~ /\G\}/gc;
            die "bad JSON object\n";
        }
        return \%h;
    }
    if ($J =~ /\G\[/gc) {
        my @a; $J =~ /\G\s*/gc; return \@a if $J =~ /\G\]/gc;
        for (;;) {
            push @a, jv(); $J =~ /\G\s*/gc; next if $J =~ /\G,/gc; last if $J =~ /\G\]/gc;
            die "bad JSON array\n";
        }
        return \@a;
    }
    my $s = js(); return $s if defined $s;
    return $1 if $J =~ /\G(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/gc;
    return 1 if $J =~ /\Gtrue/gc; return 0 if $J =~ /\Gfalse/gc; return undef if $J =~ /\Gnull/gc;
    die "bad JSON at offset " . pos($J) . "\n";
}
'
json() {
    perl -e "use strict; use warnings; $json_pl"'
        my $code = shift; local $/; open(my $fh, "<", shift) or die "$!\n";
        our $d = jd(scalar <$fh>); eval "no strict; $code; 1" or die $@;' "$@"
}

# ---- HTTP ----------------------------------------------------------------------
printf 'Content-Type: application/json\n' >"$tmp/headers"

# api METHOD PATH [BODY_FILE]: the status on stdout, the body in $tmp/resp.
api() {
    local args=(-sS -o "$tmp/resp" -w '%{http_code}' -X "$1" -H @"$tmp/headers")
    [ $# -ge 3 ] && args+=(--data-binary @"$3")
    curl "${args[@]}" "$url$2" || true
}

# The server's error message from $tmp/resp, or the start of the body.
server_message() {
    json 'print $d->{error}{message} // ""' "$tmp/resp" 2>/dev/null ||
        head -c 300 "$tmp/resp"
}

use_token() {
    printf 'Content-Type: application/json\nAuthorization: Bearer %s\n' "$1" >"$tmp/headers"
}

save_state() {
    (umask 077 && printf 'base=%s\ntoken=%s\n' "$base" "$token" >"$state.tmp") &&
        mv "$state.tmp" "$state"
}

# ---- token and base time --------------------------------------------------------
status=$(curl -sS -o /dev/null -w '%{http_code}' "$url/healthz" || true)
[ "$status" = 200 ] || die "$url/healthz answered ${status/#000/nothing}; is the server running?"

base=""
token=""
if [ -f "$state" ]; then
    base=$(sed -n 's/^base=\([0-9][0-9]*\|unknown\)$/\1/p' "$state")
    token=$(sed -n 's/^token=\(stk_[A-Za-z0-9_-]*\)$/\1/p' "$state")
fi
token_ok=0
if [ -n "$token" ]; then
    use_token "$token"
    status=$(api GET "/api/v1/incidents?limit=1")
    case $status in
    200) token_ok=1 ;;
    401 | 403) ;;
    *) die "GET /api/v1/incidents answered $status: $(server_message)" ;;
    esac
fi
if [ "$token_ok" = 0 ]; then
    token=$("$bin" token create --name demo-loader --permissions alerts:read,alerts:manage \
        --db "$db" 2>"$tmp/cli.err") ||
        die "stockade token create failed: $(cat "$tmp/cli.err")"
    use_token "$token"
fi
# A new token means a new database, a revoked token or a first load; a
# missing base time, a first load or a lost state file. The database says
# which: does it hold the demo's web pod?
if [ "$token_ok" = 0 ] || ! [[ $base =~ ^[0-9]+$ ]]; then
    status=$(api GET "/api/v1/incidents?q=$marker_pod&limit=1")
    [ "$status" = 200 ] || die "GET /api/v1/incidents answered $status: $(server_message)"
    present=$(json 'print scalar @{$d->{items}}' "$tmp/resp") || die "unreadable answer"
    if [ "$present" = 0 ]; then
        base=$(date +%s)
    elif ! [[ $base =~ ^[0-9]+$ ]]; then
        base=unknown
    fi
fi
save_state
if [ "$base" = unknown ]; then
    echo "demo-load: the database already holds the demo scenario, loaded with a base time" \
        "$state does not have; nothing loaded" >&2
    exit 0
fi

# ---- fixtures ------------------------------------------------------------------
subst_pl='
use strict; use warnings; use POSIX qw(strftime);
my $base = shift; local $/; my $t = <STDIN>;
sub frac9 { my $f = shift // ""; return $f . ("0" x (9 - length $f)) }
sub ns { my ($off, $f) = @_; my $s = $base - $off; die "time before 1970\n" if $s < 0;
    return $s . frac9($f) }
sub rfc { my ($off, $f, $zone) = @_; my $s = $base - $off;
    return strftime("%Y-%m-%dT%H:%M:%S", gmtime($s)) . "." . ($f // "000000000") . $zone }
$t =~ s/"\@NS-(\d+)(?:\.(\d{1,9}))?\@"/ns($1, $2)/ge;
$t =~ s/\@NS-(\d+)(?:\.(\d{1,9}))?\@/ns($1, $2)/ge;
$t =~ s/\@T-(\d+)(?:\.(\d{1,9}))?\@/rfc($1, $2, "Z")/ge;
$t =~ s/\@O-(\d+)(?:\.(\d{1,9}))?\@/rfc($1, $2, "+0000")/ge;
die "unknown placeholder $1\n" if $t =~ /(\@(?:T|O|NS)-[^@\s]*\@)/;
print $t;
'

files=()
for f in "$fixtures"/*.json "$fixtures"/*.ndjson; do
    [ -e "$f" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] || die "no fixtures in $fixtures"
mapfile -t files < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)

total_new=0 total_dup=0 total_created=0 total_merged=0
for f in "${files[@]}"; do
    name=$(basename "$f")
    if [[ $name =~ ^[0-9]+-([A-Za-z0-9._-]+)-(alerts|k8s-audit|falco|inventory|trivy)\.(json|ndjson)$ ]]; then
        cluster=${BASH_REMATCH[1]}
        kind=${BASH_REMATCH[2]}
    else
        die "$name: expected NN-CLUSTER-(alerts|k8s-audit|falco|inventory|trivy).(json|ndjson)"
    fi
    case $kind in
    alerts) path=/api/v1/alerts ;;
    inventory) path=/api/v1/inventory ;;
    *) path=/api/v1/ingest/$kind ;;
    esac
    perl -e "$subst_pl" "$base" <"$f" >"$tmp/body" || die "$name: placeholder substitution failed"
    status=$(api POST "$path?cluster=$cluster" "$tmp/body")
    [ "$status" = 200 ] || die "POST $path?cluster=$cluster ($name) answered $status: $(server_message)"
    counts=$(json 'print join(" ", map { $d->{$_} // 0 }
        qw(alerts_new alerts_duplicate incidents_created incidents_merged))' "$tmp/resp") ||
        die "POST $path ($name): unreadable answer"
    read -r n_new n_dup n_created n_merged <<<"$counts"
    total_new=$((total_new + n_new))
    total_dup=$((total_dup + n_dup))
    total_created=$((total_created + n_created))
    total_merged=$((total_merged + n_merged))
done

# ---- the critical asset -----------------------------------------------------------
status=$(api GET "/api/v1/incidents?q=$critical_name&limit=200")
[ "$status" = 200 ] || die "GET /api/v1/incidents answered $status: $(server_message)"
entity=""
for id in $(json 'print "$_->{id}\n" for @{$d->{items}}' "$tmp/resp"); do
    status=$(api GET "/api/v1/incidents/$id")
    [ "$status" = 200 ] || die "GET /api/v1/incidents/$id answered $status: $(server_message)"
    entity=$(json 'for (@{$d->{entities}}) {
        if ($_->{key} eq $ARGV[0]) { print "$_->{id} ", ($_->{critical} ? 1 : 0); last } }' \
        "$tmp/resp" "$critical_key")
    [ -n "$entity" ] && break
done
[ -n "$entity" ] || die "no incident holds entity $critical_key"
entity_id=${entity% *}
if [ "${entity#* }" = 0 ]; then
    printf '{"critical":true}' >"$tmp/patch"
    status=$(api PATCH "/api/v1/entities/$entity_id" "$tmp/patch")
    [ "$status" = 200 ] || die "PATCH /api/v1/entities/$entity_id answered $status: $(server_message)"
fi

# ---- summary ----------------------------------------------------------------------
status=$(api GET "/api/v1/incidents?limit=1")
[ "$status" = 200 ] || die "GET /api/v1/incidents answered $status: $(server_message)"
queue=$(json 'my $n = 0; $n += $_ for values %{$d->{counts}{status}}; print $n' "$tmp/resp")
stored=$((total_new + total_dup))
echo "Demo scenario: $stored alerts from ${#files[@]} fixtures ($total_new new, $total_dup" \
    "already loaded), $((total_created - total_merged)) new incidents; the queue holds $queue" \
    "incidents; critical asset $critical_name (entity $entity_id)."
