#!/usr/bin/env bash
# Run the README's "Operations" section as written: its `ops-*` code blocks, read from README.md
# and executed in order, against a Prefect server on a free loopback port with its own
# PREFECT_HOME and RENDEZVOUS_HOME (a temporary folder). The only changes made to the commands:
# port 4200 -> a free port, databases rdv_prefect / rdv_store -> names unique to this run.
# Between the blocks the script checks, through the API and the CLI, that each step did its job.
#
#   scripts/operations.sh            # SQLite for Prefect and for the store
#   scripts/operations.sh postgres   # PostgreSQL for both (the ops-postgres block)
#   OPS_KEEP=1 ...                   # keep the temporary folder (logs, state)
#   OPS_BEFORE_APPROVE='command'     # run while the promotion waits on its form (screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-sqlite}
WORK=$(mktemp -d /tmp/rendezvous-ops.XXXXXX)
PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PREFECT_DB=rdv_prefect_$$
STORE_DB=rdv_store_$$
export PREFECT_HOME=$WORK/prefect RENDEZVOUS_HOME=$WORK/home RENDEZVOUS_MODELS_DIR=$WORK/models
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# an operator's shell: Prefect's defaults, nothing of the caller's (a test run's) configuration
unset PREFECT_API_URL PREFECT_API_DATABASE_CONNECTION_URL PREFECT_LOGGING_LEVEL RENDEZVOUS_DATABASE_URL
BACKGROUND=()
SERVER=()
STARTED=$SECONDS

block() {  # the commands of README block ops-$1, with this run's port and database names
  awk -v fence="\`\`\`bash ops-$1" '$0 == fence { inside = 1; next } inside && /^```$/ { exit } inside' README.md |
    sed -e "s/4200/$PORT/g" -e "s/rdv_prefect/$PREFECT_DB/g" -e "s/rdv_store/$STORE_DB/g"
}

run() {  # run block ops-$1 in this shell (its exports stay), echoing it
  local text
  text=$(block "$1")
  [ -n "$text" ] || { echo "README.md has no block ops-$1" >&2; exit 1; }
  echo "== [ops-$1] at $((SECONDS - STARTED)) s"
  sed 's/^/   $ /' <<<"$text"
  eval "$text"
}

start() {  # run block ops-$1 in the background, in its own process group, logged to $WORK
  local text log=$WORK/$1-${#BACKGROUND[@]}.log
  text=$(block "$1")
  [ -n "$text" ] || { echo "README.md has no block ops-$1" >&2; exit 1; }
  echo "== [ops-$1] in the background (log $log)"
  sed 's/^/   $ /' <<<"$text"
  setsid bash -c "$text" >"$log" 2>&1 &
  BACKGROUND+=("$!")
}

stop_background() {
  local pid
  # TERM: a background job of a non-interactive shell ignores INT (Ctrl-C in a terminal)
  for pid in "${BACKGROUND[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${BACKGROUND[@]}"; do
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  BACKGROUND=()
}

cleanup() {
  local code=$?
  stop_background
  BACKGROUND=("${SERVER[@]}")
  stop_background
  if [ "$MODE" = postgres ]; then
    dropdb -h 127.0.0.1 -U postgres --if-exists --force "$PREFECT_DB" || true
    dropdb -h 127.0.0.1 -U postgres --if-exists --force "$STORE_DB" || true
  fi
  if [ "$code" != 0 ]; then
    echo "FAILED (exit $code) after $((SECONDS - STARTED)) s; logs:" >&2
    tail -n 40 "$WORK"/*.log >&2 || true
  fi
  if [ -n "${OPS_KEEP:-}" ]; then echo "state kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$code"
}
trap cleanup EXIT

check() {  # a Python assertion against the API and the store; $1 says what is checked
  echo "-- check: $1"
  .venv/bin/python -c "$2"
}

API_CHECKS='
import json, subprocess, sys, time
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowFilter, FlowFilterName
from prefect.client.schemas.sorting import FlowRunSort

def runs(flow):
    with get_client(sync_client=True) as c:
        return c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])), sort=FlowRunSort.START_TIME_DESC)

def artifacts(run):
    with get_client(sync_client=True) as c:
        found = c.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
    return {a.key: a for a in found}

def cli(*args):
    return json.loads(subprocess.run([".venv/bin/rendezvous", *args, "--json"], check=True, capture_output=True, text=True).stdout)
'

if [ "$MODE" = postgres ]; then run postgres; fi
start server
SERVER=("${BACKGROUND[@]}")
BACKGROUND=()
for _ in $(seq 240); do curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null
run env  # once the server is up: its credential is written when it starts
check "the UI calls this server's API" "
import json, urllib.request
with urllib.request.urlopen('http://127.0.0.1:$PORT/ui-settings') as answer:
    api_url = json.load(answer)['api_url']
assert api_url == 'http://127.0.0.1:$PORT/api', api_url
print('   ok: UI at http://127.0.0.1:$PORT, its API', api_url)
"
run keys
run deploy
check "four deployments on the process pool, schedules as in prefect.yaml" "$API_CHECKS
with get_client(sync_client=True) as c:
    d = {x.name: x for x in c.read_deployments()}
assert set(d) == {'score-batches', 'train-candidate', 'promote-model', 'drift-report'}, d
assert all(x.work_pool_name == 'rendezvous-process' and x.enforce_parameter_schema for x in d.values())
assert d['score-batches'].schedules[0].schedule.interval.total_seconds() == 60
print('   ok:', ', '.join(f'{n}: {[str(s.schedule) for s in x.schedules] or \"by hand\"}' for n, x in d.items()))
"
start worker
start worker
run batch
check "the batch was scored by a worker, named, tagged, with drift and progress artifacts" "$API_CHECKS
run = next(r for r in runs('score-batches') if r.name == 'loans-2026-11-07.csv')
assert run.state.is_completed(), run.state
assert {'live:demo-live-v1', 'canary:demo-canary-v1'} <= set(run.tags), run.tags
keys = artifacts(run)
assert {'drift-table', 'drift-verdict'} <= set(keys), set(keys)
# the minute schedule's run may take the batch before the run started by hand (which then waits
# on the concurrency limit and finds an empty inbox): without the job variable, one chunk, no bar
if (run.job_variables or {}).get('env', {}).get('RENDEZVOUS_CHUNK_ROWS') == '1000':
    assert keys['batch-progress'].data == 100.0, keys['batch-progress'].data
    progress = keys['batch-progress'].description
else:
    assert 'auto-scheduled' in run.tags and 'batch-progress' not in keys, (run.tags, set(keys))
    progress = 'taken by the scheduled run (one chunk, no progress bar)'
detail = cli('batches', 'show', 'loans-2026-11-07.csv')
assert detail['state'] == 'committed' and detail['rows_in'] == 3000, detail
assert detail['rows_in'] == detail['rows_scored'] + detail['rows_quarantined']
print('   ok:', run.name, sorted(run.tags), sorted(keys), progress)
"
run promote
if [ -n "${OPS_BEFORE_APPROVE:-}" ]; then
  echo "== OPS_BEFORE_APPROVE: $OPS_BEFORE_APPROVE"
  PORT=$PORT WORK=$WORK bash -c "$OPS_BEFORE_APPROVE"
fi
run approve
run audit
check "the signed approval rotated the roles, audited with the form's input and the decision document" "$API_CHECKS
last = cli('models', 'history')[-1]
assert (last['action'], last['actor'], last['comment']) == ('promote', 'bob', 'beats live on the holdout'), last
assert last['decision']['proposal']['by'] == 'alice' and last['decision']['proposal']['signature'], last['decision']
assert [(d['kind'], d['by']) for d in last['decision']['decisions']] == [('approve', 'bob')], last['decision']
assert last['after']['live'] == 'cand-1' and last['after']['canary'] == 'demo-live-v1', last
promotion = runs('promote-model')[0]
assert promotion.state.is_completed() and str(promotion.id) == last['flow_run_id'], (promotion, last)
reports = [r for r in runs('drift-report') if r.state.is_final()]  # others: the daily schedule's
assert reports and reports[0].state.is_completed(), reports
print('   ok:', last['action'], 'by', last['actor'], last['before'], '->', last['after'])
"
stop_background
echo "== workers stopped"
start serve
check "rendezvous serve took the deployments over" "$API_CHECKS
deadline = time.monotonic() + 300
while True:
    with get_client(sync_client=True) as c:
        d = {x.name: x for x in c.read_deployments()}
    if len(d) == 4 and all(x.entrypoint.startswith('flows.') and not x.pull_steps for x in d.values()):
        break  # served: imported by module path, nothing to pull
    assert time.monotonic() < deadline, d
    time.sleep(1)
print('   ok: served', sorted(d))
"
run serve-run
check "the served deployment scored the next batch" "$API_CHECKS
run = next(r for r in runs('score-batches') if r.name == 'loans-2026-11-08.csv')
assert run.state.is_completed(), run.state
assert str(run.id) in open('$WORK/serve-0.log').read(), 'not run by rendezvous serve'
assert cli('batches', 'show', 'loans-2026-11-08.csv')['state'] == 'committed'
print('   ok:', run.name, run.state.name, 'run by rendezvous serve')
"
stop_background
BACKGROUND=("${SERVER[@]}")
stop_background
trap - EXIT
echo "operations ($MODE): every block of the README ran and every check passed in $((SECONDS - STARTED)) s"
if [ -n "${OPS_KEEP:-}" ]; then echo "state kept in $WORK"; else rm -rf "$WORK"; fi
if [ "$MODE" = postgres ]; then
  dropdb -h 127.0.0.1 -U postgres --if-exists --force "$PREFECT_DB"
  dropdb -h 127.0.0.1 -U postgres --if-exists --force "$STORE_DB"
fi
