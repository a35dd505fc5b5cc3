# Shared by bench/compare and bench/resilience: the backends, process accounting and wrk runs.
# Source it after setting WORK (a scratch directory) and PIDS (an array); callers kill PIDS on exit.

BACKEND_PORTS=(19201 19202 19203)

# Three nginx backends on loopback answering every path (health checks included) with 200.
start_backends() {
  cat > "$WORK/backends.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/backends.pid; error_log $WORK/backends.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:${BACKEND_PORTS[0]}; listen 127.0.0.1:${BACKEND_PORTS[1]};
           listen 127.0.0.1:${BACKEND_PORTS[2]};
           location / { return 200 "hello from backend\n"; } } }
CONF
  nginx -c "$WORK/backends.conf" & PIDS+=($!)
}

wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  exit 1
}

# sum_proc PID FILE AWK: one number read by AWK from /proc/*/FILE, summed over PID and its children.
sum_proc() {
  local total=0
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk "$3" "/proc/$pid/$2")))
  done
  echo "$total"
}
cpu_ticks() { sum_proc "$1" stat '{print $14 + $15}'; }  # utime + stime
rss_kib() { sum_proc "$1" status '/VmRSS/{print $2}'; }
to_ms() {  # wrk latency ("712.00us", "1.20ms", "2.00s") in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.3f", n }'
}

TICKS=$(getconf CLK_TCK)

print_header() {
  printf "%-16s %-6s %12s %9s %9s %16s %9s\n" proxy round "requests/s" "p50 ms" "p99 ms" \
    "req/CPU-second" "RSS KiB"
}

# run_wrk NAME ROUND PID PORT SECONDS CONNECTIONS RESULTS: one wrk run against PORT (https when
# WRK_SCHEME=https), charging the CPU time of PID; prints a row and appends
# "NAME rps p50 p99 per_cpu" to RESULTS.
run_wrk() {
  local name=$1 round=$2 pid=$3 port=$4 seconds=$5 connections=$6 results=$7
  local before after rps p50 p99 errors per_cpu
  before=$(cpu_ticks "$pid")
  wrk -t1 -c"$connections" -d"${seconds}s" --latency ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} \
    "${WRK_SCHEME:-http}://127.0.0.1:$port/" > "$WORK/wrk.out"
  after=$(cpu_ticks "$pid")
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$WORK/wrk.out")
  per_cpu=$(awk -v r="$rps" -v s="$seconds" -v t=$((after - before)) -v hz="$TICKS" \
    'BEGIN { printf "%.0f", (t > 0) ? r * s / (t / hz) : 0 }')
  printf "%-16s %-6s %12s %9s %9s %16s %9s %s\n" "$name" "$round" "$rps" "$p50" "$p99" "$per_cpu" \
    "$(rss_kib "$pid")" "$errors"
  echo "$name $rps $p50 $p99 $per_cpu" >> "$results"
}
