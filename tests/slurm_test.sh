#!/usr/bin/env bash
# Sharded runs on a real Slurm: a one-node cluster (munged, slurmctld,
# slurmd from Debian's slurm-wlm) started for this test only, the job
# array of examples/slurm/ on a small experiment (scripted backend + the
# tiny model), and:
#   A. a plain array of 3 tasks: the union of the shards equals the
#      unsharded run apart from id/timestamp, `syndisco status` says
#      complete, the check job finds nothing to do;
#   B. task 1 frozen in the middle of its shard and requeued
#      (scontrol requeue), task 2 failing on its first attempt: the check
#      job resubmits shard 2 only, and the set ends complete and equal.
#
#   slurm_test.sh SYNDISCO_BIN SOURCE_DIR TINY_MODEL
#
# Needs root (it runs the daemons) and Debian's slurm-wlm and munge
# (scripts/deps.sh --tests); otherwise it exits 77 (skipped). Every daemon and job
# it started is stopped by pid, and its files removed, on every exit path.
# SLURM_TEST_KEEP=1 keeps the temp directory for debugging.
set -u
bin=$(realpath "$1") src=$(realpath "$2") model=$(realpath "$3")
SKIP=77
t_start=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
skip() { echo "SKIPPED: $*"; exit $SKIP; }
say() { echo "slurm_test: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (runs munged, slurmctld, slurmd)"

# --- packages ------------------------------------------------------------
have_slurm() {
	command -v munged && command -v slurmctld && command -v slurmd &&
		command -v sbatch && command -v squeue && command -v scontrol
} >/dev/null 2>&1
have_slurm || skip "no slurm-wlm and munge: run scripts/deps.sh --tests"
say "packages ready after $(elapsed "$t_start") s ($(slurmctld -V))"

# --- the cluster ----------------------------------------------------------
tmp=$(mktemp -d /tmp/syndisco-slurm.XXXXXX)
chmod 755 "$tmp"
export SLURM_CONF=$tmp/etc/slurm.conf
pids_daemons=()
cleanup() {
	local rc=$?
	set +e
	if [ -e "$SLURM_CONF" ] && [ ${#pids_daemons[@]} -gt 0 ]; then
		# jobs first: a job step (slurmstepd) outlives its slurmd
		scancel --quiet --full --user=root >/dev/null 2>&1
		for _ in $(seq 50); do
			[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	local i
	for ((i = ${#pids_daemons[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids_daemons[i]}" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "${pids_daemons[i]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${pids_daemons[i]}" 2>/dev/null
		wait "${pids_daemons[i]}" 2>/dev/null
	done
	# a step daemon or job process of this cluster still there (they carry
	# our SLURM_CONF in the environment they were started with)
	if [ -n "${tmp:-}" ]; then
		for p in /proc/[0-9]*; do
			[ "${p#/proc/}" = $$ ] && continue
			{ tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" &&
				echo "slurm_test: killing leftover $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" &&
				kill -KILL "${p#/proc/}" 2>/dev/null
		done
	fi
	if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then
		echo "slurm_test: kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
die() {
	echo "FAIL: $*"
	for f in "$tmp"/log/*.log "$tmp"/jobs/*.out; do
		[ -e "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

mkdir -p "$tmp"/{etc,munge,state,spool,log,jobs}
chmod 700 "$tmp/munge"
host=$(hostname -s)
read -r port1 port2 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
cpus=$(nproc)
node=$(slurmd -C | head -n1 | sed "s/ UpTime=.*//; s/^NodeName=[^ ]*/NodeName=$host/")
case $node in NodeName=*) ;; *) die "slurmd -C: '$node'" ;; esac
cat >"$SLURM_CONF" <<CONF
ClusterName=syndisco-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port1
SlurmdPort=$port2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ReturnToService=2
KillWait=5
MinJobAge=600
SchedulerParameters=sched_interval=2
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged -F --force --socket="$tmp/munge/munge.socket" --key-file="$tmp/munge/munge.key" \
	--pid-file="$tmp/munge/munged.pid" --log-file="$tmp/log/munged.log" \
	--seed-file="$tmp/munge/munged.seed" >>"$tmp/log/munged.log" 2>&1 &
pids_daemons+=($!)
for _ in $(seq 100); do [ -S "$tmp/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$tmp/munge/munge.socket" ] || die "munged did not start"

slurmctld -D -c -f "$SLURM_CONF" >>"$tmp/log/slurmctld.log" 2>&1 &
pids_daemons+=($!)
slurmd -D -N "$host" -f "$SLURM_CONF" >>"$tmp/log/slurmd.log" 2>&1 &
pids_daemons+=($!)
state=
for _ in $(seq 150); do
	state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
	[ "$state" = idle ] && break
	sleep 0.2
done
[ "$state" = idle ] || die "node $host is '$state', not idle, after 30 s"
t_ready=$(date +%s.%N)
say "cluster up ($host, $cpus CPUs) after $(elapsed "$t_start") s"

# --- the experiment -------------------------------------------------------
cat >"$tmp/exp.json" <<JSON
{
    "seed": 17,
    "personas_file": "$src/examples/study/personas.json",
    "instructions": "Take part.",
    "num_active_users": 3,
    "num_turns": 4,
    "sampling": {"max_tokens": 24},
    "conditions": {
        "engine": [
            {"name": "scripted", "num_discussions": 15, "backend": {"type": "scripted"}},
            {"name": "tiny", "num_discussions": 12,
             "backend": {"type": "llama", "model": "$model", "n_ctx": 1024, "n_threads": 1}}
        ]
    }
}
JSON
"$bin" run "$tmp/exp.json" --out "$tmp/ref" --quiet || die "unsharded reference run"

# Wait until none of our jobs is queued or running (timeout in s).
wait_queue() {
	local deadline=$(($(date +%s) + $1))
	while [ -n "$(squeue -h -o %i)" ]; do
		if [ "$(date +%s)" -gt "$deadline" ]; then
			squeue
			die "jobs still queued after $1 s"
		fi
		sleep 0.5
	done
}
# JobState of every job/array task ever seen: "ID STATE EXIT" lines.
job_states() {
	scontrol -o show job 2>/dev/null | sed -n \
		's/^JobId=\([0-9]*\) .*ArrayJobId=\([0-9]*\) ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9:]*\).*/\2_\3 \4 \5/p;
		 /ArrayTaskId=/!s/^JobId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9:]*\).*/\1 \2 \3/p'
}

# Slurm runs the array tasks in the directory they were submitted from.
cd "$tmp/jobs" || die "cd"
sbopts=(--cpus-per-task=1 --mem=200M --time=10)
export SYNDISCO_PARALLEL=4

# --- A: a plain array of 3 tasks -------------------------------------------
t0=$(date +%s.%N)
export SYNDISCO=$bin
"$src/examples/slurm/submit.sh" "$tmp/exp.json" "$tmp/outA" 3 "${sbopts[@]}" >"$tmp/submitA" ||
	die "submit.sh A: $(cat "$tmp/submitA")"
say "A: $(cat "$tmp/submitA")"
wait_queue 120
say "A: array and check job done in $(elapsed "$t0") s"
states=$(job_states)
echo "$states" | sed 's/^/  /'
[ "$(echo "$states" | grep -c ' COMPLETED 0:0$')" = 4 ] && [ "$(echo "$states" | wc -l)" = 4 ] ||
	bad "A: expected 3 array tasks + 1 check job COMPLETED"
python3 "$src/tests/compare_runs.py" "$tmp/ref" "$tmp/outA" >"$tmp/cmp" 2>&1 ||
	bad "A: shards differ from the unsharded run: $(cat "$tmp/cmp")"
"$bin" status "$tmp/outA" >"$tmp/status" || bad "A: status exit $?: $(cat "$tmp/status")"
grep -q "^all *27 *27$" "$tmp/status" || bad "A: status: $(cat "$tmp/status")"
grep -q "is complete" syndisco-check-*.out || bad "A: check job: $(cat syndisco-check-*.out)"
grep -h "task .* of job" syndisco-*_*.out | sed 's/^/  /'
[ "$(grep -l "task .* of job" syndisco-*_*.out | wc -l)" = 3 ] || bad "A: 3 task logs"
ls "$tmp"/outA/*/ | grep -q '\.tmp\.' && bad "A: temp files left"
rm -f "$tmp"/jobs/*

# --- B: a requeued task and a failed one ------------------------------------
# syndisco stand-in for the tasks: task 1 (first attempt) is run in 20 ms
# slices and frozen right after it wrote its first file of the tiny cell,
# with its other discussions still to do, until the requeue kills it; task
# 2 fails its first attempt so that the check job has a shard to resubmit.
cat >"$tmp/syndisco-wrapper" <<SH
#!/bin/bash
echo "task \${SLURM_ARRAY_TASK_ID:-none} job \$SLURM_JOB_ID restart \${SLURM_RESTART_COUNT:-0}: \$*" >>"$tmp/wrapper.log"
[ "\$1" = run ] || exec "$bin" "\$@"
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 2 ] && mkdir "$tmp/failed-once" 2>/dev/null; then
	echo "task 2: failing on purpose" >&2
	exit 1
fi
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 1 ] && mkdir "$tmp/frozen-once" 2>/dev/null; then
	"$bin" "\$@" --parallel 1 &
	pid=\$!
	kill -STOP \$pid
	until [ -e "$tmp/outB/tiny/1.json" ] || ! kill -0 \$pid 2>/dev/null; do
		kill -CONT \$pid; sleep 0.02; kill -STOP \$pid
	done
	ls "$tmp/outB/tiny" >"$tmp/frozen"
	wait \$pid
	exit \$?
fi
exec "$bin" "\$@"
SH
chmod +x "$tmp/syndisco-wrapper"
t0=$(date +%s.%N)
export SYNDISCO=$tmp/syndisco-wrapper
"$src/examples/slurm/submit.sh" "$tmp/exp.json" "$tmp/outB" 3 "${sbopts[@]}" >"$tmp/submitB" ||
	die "submit.sh B: $(cat "$tmp/submitB")"
say "B: $(cat "$tmp/submitB")"
jobB=$(sed -n 's/^submitted job array \([0-9]*\) .*/\1/p' "$tmp/submitB")
deadline=$(($(date +%s) + 60))
until [ -e "$tmp/frozen" ]; do
	[ "$(date +%s)" -gt "$deadline" ] && die "B: task 1 did not reach its freeze point"
	sleep 0.1
done
say "B: task 1 frozen with tiny/ holding: $(tr '\n' ' ' <"$tmp/frozen")"
scontrol requeue "${jobB}_1" || die "B: scontrol requeue ${jobB}_1"
say "B: requeued ${jobB}_1 at $(elapsed "$t0") s"
# A requeued job may only start again after a delay (BeginTime two
# minutes on); let it start sooner, but not within the second of the
# requeue: slurmd refuses a launch whose credential is not newer (in whole
# seconds) than the kill of the job's previous run ("Job N already killed,
# do not launch batch job").
t_requeue=$(date +%s)
deadline=$((t_requeue + 30))
until [ "$(date +%s)" -ge $((t_requeue + 2)) ] &&
	scontrol -o show job "${jobB}_1" | grep -q "JobState=PENDING" &&
	scontrol update JobId="${jobB}_1" StartTime=now 2>/dev/null; do
	[ "$(date +%s)" -gt "$deadline" ] && { bad "B: could not move ${jobB}_1's start time"; break; }
	sleep 0.2
done
wait_queue 150
say "B: arrays and check jobs done in $(elapsed "$t0") s"
states=$(job_states | awk -v j="$jobB" '$1 + 0 >= j + 0')
echo "$states" | sed 's/^/  /'
sed 's/^/  wrapper: /' "$tmp/wrapper.log" | grep -v ": status "
checkB=$(sed -n 's/.*check job \([0-9]*\)$/\1/p' "$tmp/submitB")
echo "$states" | grep -q "^${jobB}_0 COMPLETED 0:0$" || bad "B: task 0 not COMPLETED"
echo "$states" | grep -q "^${jobB}_1 COMPLETED 0:0$" || bad "B: requeued task 1 not COMPLETED"
echo "$states" | grep -q "^${jobB}_2 FAILED 1:0$" || bad "B: task 2 should have FAILED"
echo "$states" | grep -q "^${checkB} COMPLETED 0:0$" || bad "B: check job $checkB not COMPLETED"
[ "$(echo "$states" | grep -c "_2 COMPLETED 0:0$")" = 1 ] || bad "B: resubmitted shard 2 not COMPLETED"
[ "$(echo "$states" | grep -c " COMPLETED 0:0$")" = 5 ] || bad "B: expected 5 COMPLETED jobs"
# the requeued task resumed: it skipped what its first attempt wrote
# (5 scripted + >= 1 tiny files) and ran the rest of its 9
read -r ndone nskip < <(sed -n 's/.*info: \([0-9]*\) done, \([0-9]*\) skipped.*/\1 \2/p' \
	"syndisco-${jobB}_1.out")
[ "${ndone:-0}" -ge 1 ] && [ "${nskip:-0}" -ge 6 ] && [ $((ndone + nskip)) = 9 ] ||
	bad "B: requeued task 1: '${ndone:-?} done, ${nskip:-?} skipped', want >= 1 and >= 6 of 9"
grep -q "task 1 job .* restart 1: run" "$tmp/wrapper.log" || bad "B: task 1 did not run again after the requeue"
[ "$(grep -c "^task 2 job .*: run" "$tmp/wrapper.log")" = 2 ] || bad "B: task 2 should run twice (failed, resubmitted)"
[ "$(grep -c "^task [01] job .*restart 0: run" "$tmp/wrapper.log")" = 2 ] || bad "B: tasks 0 and 1 once each before the requeue"
grep -q "resubmitted shards 2 of 3" syndisco-check-*.out || bad "B: check job did not resubmit shard 2: $(cat syndisco-check-*.out)"
grep -q "is complete" syndisco-check-*.out || bad "B: no check job found the run complete"
python3 "$src/tests/compare_runs.py" "$tmp/ref" "$tmp/outB" >"$tmp/cmp" 2>&1 ||
	bad "B: result differs from the unsharded run: $(cat "$tmp/cmp")"
"$bin" status "$tmp/outB" --json >"$tmp/status" || bad "B: status exit $?: $(cat "$tmp/status")"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['complete'] and d['done']==27, d" \
	"$tmp/status" || bad "B: status --json: $(cat "$tmp/status")"
ls "$tmp"/outB/*/ | grep -q '\.tmp\.' && bad "B: temp files left"

if [ $fail -ne 0 ]; then
	for f in "$tmp"/log/slurmctld.log "$tmp"/jobs/*.out; do
		[ -e "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
	done
	echo "$fail failure(s)"
	exit 1
fi
say "passed in $(elapsed "$t_start") s (cluster up after $(python3 -c \
	"import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.1f}')" "$t_ready" "$t_start") s)"
