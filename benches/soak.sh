#!/bin/bash
# The TUI at "max" for 10 minutes in tmux: every 10 s its resident memory (MB), CPU seconds
# and the header's second line (rates, lag, queued, lost, duplicates).
# Usage: benches/soak.sh [path/to/streamwatch] > soak.txt
set -euo pipefail
SW=${1:-target/release/streamwatch}
DIR=$(mktemp -d)
tmux kill-session -t sw-soak 2>/dev/null || true
tmux new-session -d -s sw-soak -x 160 -y 45 \
  "sh -c 'echo \$\$ > $DIR/pid; exec $SW --rate 0 --log-file $DIR/log'"
sleep 2
PID=$(cat "$DIR/pid")
echo "t_s rss_mb cpu_s header"
for i in $(seq 0 60); do
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$PID/status")
  cpu=$(awk '{print int(($14+$15)/100)}' "/proc/$PID/stat")
  echo "$((i * 10)) $rss $cpu $(tmux capture-pane -p -t sw-soak | sed -n 2p | tr -s ' ')"
  sleep 10
done
tmux send-keys -t sw-soak q
sleep 6
grep "tui producer finished" "$DIR/log"
