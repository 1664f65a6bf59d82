#!/bin/bash
# The TUI at "max" (--rate 0) for 60 s in tmux: the header at 5 s and at 60 s, then the
# producer's final count from the log (sent = acked, failed 0): divide by the run's seconds.
# Usage: benches/max.sh [path/to/streamwatch]
set -euo pipefail
SW=${1:-target/release/streamwatch}
LOG=$(mktemp)
tmux kill-session -t sw-max 2>/dev/null || true
tmux new-session -d -s sw-max -x 160 -y 45 "$SW --rate 0 --log-file $LOG"
sleep 5
tmux capture-pane -p -t sw-max | sed -n 2p
sleep 55
tmux capture-pane -p -t sw-max | sed -n 2p
tmux send-keys -t sw-max q
sleep 6
grep "tui producer finished" "$LOG"
