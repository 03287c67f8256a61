#!/usr/bin/env bash
# `make run`: migrate ./data/stockade.db, create the documented demo users on
# a new database, and start the server on http://127.0.0.1:8080 in the
# foreground (Ctrl-C stops it cleanly).
set -eu
build=${1:-build/release}
cd "$(dirname "$0")/.."
bin="$build/stockade"
db=data/stockade.db
mkdir -p data
"$bin" migrate --db "$db" --data-dir data
if [ -z "$("$bin" user list --db "$db")" ]; then
    for u in admin responder analyst viewer; do
        printf 'stockade-%s\n' "$u" | "$bin" user add "$u" --role "$u" --password-stdin --db "$db"
    done
fi
cat <<'TXT'

Stockade is starting on http://127.0.0.1:8080  (health: http://127.0.0.1:8080/healthz)
Demo sign-ins (user / password):
  admin     / stockade-admin       everything, including users, tokens and the audit log
  responder / stockade-responder   triage, isolate, terminate, release
  analyst   / stockade-analyst     triage (classify, assign, comment)
  viewer    / stockade-viewer      read only
Change these before exposing the server to anyone.

TXT
exec "$bin" serve --db "$db" --data-dir data --listen 127.0.0.1:8080
