#!/usr/bin/env bash
# Bulwark on a local node, from nothing to a liquidation by the keeper: the README's "Localnet
# walkthrough", command for command. `cli/tests/walkthrough.rs` runs this script and checks that
# every command of that README section is here, in order (verbatim, or named on a `# README:`
# line where the script must do it differently, e.g. in the background).
#
#   scripts/localnet-demo.sh          start a node, walk through, stop everything it started
#   scripts/localnet-demo.sh --keep   leave the node and the keeper running (to look around, or
#                                     to watch in the dashboard); their PIDs are in *.pid
#
# The four programs come from PATH (`cargo install`, as the README says). Environment:
#   BULWARK_DEMO_DIR        working directory for keypairs, logs and the deployment [demo/]
#   BULWARK_LOCALNET_PORT   the port the node started here listens on [8899; 0: a free one, and
#                           the URL is read from the node's first line]
#   BULWARK_DEMO_NODE=use   use a node already running at BULWARK_RPC_URL instead of starting one
#                           (BULWARK_RPC_URL: the node's URL [http://127.0.0.1:8899]), from a
#                           fresh BULWARK_DEMO_DIR
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
keep=false
[ "${1:-}" = "--keep" ] && keep=true
work=${BULWARK_DEMO_DIR:-$repo/demo}
started=()
stop_all() {
  for pid in ${started[@]+"${started[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${started[@]+"${started[@]}"}; do wait "$pid" 2>/dev/null || true; done
}
$keep || trap stop_all EXIT
step() { printf '\n== %s\n' "$*"; }
# Run a command until it prints `expect` (a fixed string), for at most `seconds`; give up early
# when the process with PID $watch (if set) has died.
wait_for() {
  local seconds=$1 expect=$2 out
  shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    out=$("$@" 2>/dev/null || true)
    if [[ $out == *"$expect"* ]]; then return 0; fi
    if [ -n "${watch:-}" ] && ! kill -0 "$watch" 2>/dev/null; then
      echo "the process $watch ($(cat "$watch_log" 2>/dev/null | tail -n 5)) has stopped" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "gave up after ${seconds}s waiting for \`$*\` to print $expect" >&2
  return 1
}

# README: cargo install --locked --path localnet && cargo install --locked --path migrations
# README: cargo install --locked --path cli && cargo install --locked --path keeper
for program in bulwark bulwark-localnet bulwark-migrate bulwark-keeper; do
  command -v "$program" >/dev/null || {
    echo "$program is not on PATH: install the four programs first (see the README's Localnet walkthrough)" >&2
    exit 1
  }
done

mkdir -p "$work" && cd "$work"

step "the node (its state lives in memory: stopping it loses every account)"
if [ "${BULWARK_DEMO_NODE:-}" != "use" ]; then
  # A fresh node: what an earlier run of this script left here belongs to a node that is gone.
  rm -rf admin.json maker.json trader.json keeper.json deployment.json env.sh localnet.toml \
    localnet.log keeper.log localnet.pid keeper.pid keys/localnet-collateral-mint.json
  # README: bulwark-localnet
  bulwark-localnet >localnet.log 2>&1 &
  started+=($!)
  echo $! >localnet.pid
  watch=$! watch_log=localnet.log wait_for 120 listening cat localnet.log
  banner=$(grep -m 1 listening localnet.log)
  echo "$banner"
  # The URL it listens on (a free port when BULWARK_LOCALNET_PORT=0).
  BULWARK_RPC_URL=$(grep -o 'http://[^ ]*' <<<"$banner" || true)
  [ -n "$BULWARK_RPC_URL" ] || { echo "no URL in the node's line: $banner" >&2; exit 1; }
  export BULWARK_RPC_URL
fi

step "the deployer: a keypair, then the migrations (mint, feeds, clearinghouse, BTC-PERP)"
# README: mkdir -p demo && cp migrations/localnet.toml demo/ && cd demo
cp "$repo/migrations/localnet.toml" .
bulwark keygen --outfile admin.json
bulwark-migrate localnet.toml --keypair admin.json --airdrop 100 --out deployment.json --env-out env.sh
. ./env.sh

step "two users and a keeper, each with SOL for fees; collateral from the mint authority"
bulwark keygen --outfile maker.json
bulwark keygen --outfile trader.json
bulwark keygen --outfile keeper.json
bulwark airdrop 5 --keypair maker.json
bulwark airdrop 5 --keypair trader.json
bulwark airdrop 5 --keypair keeper.json
bulwark mint-collateral 20000 --to "$(bulwark address --keypair maker.json)" --keypair admin.json
bulwark mint-collateral 1000 --to "$(bulwark address --keypair trader.json)" --keypair admin.json
bulwark deposit 20000 --keypair maker.json
bulwark deposit 1000 --keypair trader.json

step "the maker quotes: an ask at 100,000 and the bid a liquidation will sell into at 93,000"
bulwark order place --market BTC-PERP --side sell --lots 90 --price 100000 --type post-only --keypair maker.json
bulwark order place --market BTC-PERP --side buy --lots 80 --price 93000 --type post-only --keypair maker.json
bulwark book --market BTC-PERP

step "the trader buys 90 lots (0.09 BTC, 9,000 of exposure on 1,000 of collateral)"
bulwark order place --market BTC-PERP --side buy --lots 90 --price 100000 --type ioc --keypair trader.json
bulwark positions --keypair trader.json

step "BTC falls to 93,500: the trader's equity is under maintenance"
bulwark feed publish btc-usd --price 93500 --keypair admin.json
bulwark positions --keypair trader.json

step "the keeper: it liquidates the trader into the maker's bid"
# README: bulwark-keeper --keypair keeper.json
bulwark-keeper --keypair keeper.json >keeper.log 2>&1 &
started+=($!)
echo $! >keeper.pid
watch=$! watch_log=keeper.log wait_for 90 '"liquidatable": false' bulwark positions --keypair trader.json --json
grep -m 1 "crank landed" keeper.log || true
bulwark positions --keypair trader.json
bulwark book --market BTC-PERP
bulwark markets

step "done"
echo "the keeper liquidated the trader: the position is smaller and back above maintenance"
if $keep; then
  echo "still running: the node (PID $(cat localnet.pid 2>/dev/null || echo '-')) and the keeper (PID $(cat keeper.pid))"
  echo "stop them with: kill \$(cat $work/*.pid)"
fi
