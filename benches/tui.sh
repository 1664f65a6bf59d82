#!/usr/bin/env bash
# Measures the real TUI in tmux: CPU of the idle screen (all streams stopped) and how long a
# key press takes to show on screen with every stream producing as fast as it can.
# Usage: benches/tui.sh [path/to/streamwatch]   (default: target/release/streamwatch)
set -euo pipefail
BIN=${1:-target/release/streamwatch}
S=sw-bench-$$
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cleanup() { tmux kill-session -t "$S" 2>/dev/null || true; }
trap cleanup EXIT

tmux new-session -d -s "$S" -x 140 -y 45 "STREAMWATCH_LOG_FILE=/tmp/$S.log $BIN; sleep 5"
sleep 6
PID=$(pgrep -f "^$BIN$" | head -1)
tmux send-keys -t "$S" S           # stop all streams
sleep 5                            # let the consumer drain
HZ=$(getconf CLK_TCK)
T0=$(ticks "$PID"); sleep 20; T1=$(ticks "$PID")
echo "idle (all streams stopped): $(awk -v a="$T0" -v b="$T1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz / 20 * 100 }') % of one core over 20 s"
tmux send-keys -t "$S" q
sleep 4
cleanup

tmux new-session -d -s "$S" -x 140 -y 45 "STREAMWATCH_LOG_FILE=/tmp/$S.log $BIN --rate 0; sleep 5"
sleep 8
worst=0
for k in 2 1 3 0 2 1 3 0 2 1; do
  case $k in 0) want="Alerts (";; 1) want="Sensor ●";; 2) want="Random forest";; 3) want="log alerts";; esac
  [ "$k" = 1 ] && want="sensor alerts"
  start=$(date +%s%N)
  tmux send-keys -t "$S" "$k"
  until tmux capture-pane -p -t "$S" | grep -q "$want"; do sleep 0.005; done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "key $k shown after $ms ms"
  [ "$ms" -gt "$worst" ] && worst=$ms
done
PID=$(pgrep -f "^$BIN --rate 0$" | head -1)
T0=$(ticks "$PID"); sleep 5; T1=$(ticks "$PID")
echo "full speed: $(awk -v a="$T0" -v b="$T1" -v hz="$HZ" 'BEGIN { printf "%.0f", (b - a) / hz / 5 * 100 }') % CPU (all threads), worst key-to-screen $worst ms"
tmux send-keys -t "$S" q
