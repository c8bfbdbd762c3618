#!/bin/bash
# Submit a syndisco experiment to Slurm: a job array of N shards, and a
# check job that runs when the array has ended and resubmits the shards
# that miss discussions (up to SYNDISCO_ROUNDS rounds, default 3).
#
#   examples/slurm/submit.sh CONFIG.json OUT N [sbatch options...]
#
# e.g. examples/slurm/submit.sh study.json /shared/study-out 8 --partition=gpu
# The sbatch options apply to every job, resubmissions included. Submit
# from the directory relative paths are meant from (jobs run there).
set -euo pipefail
if [ $# -lt 3 ]; then
	echo "usage: $0 CONFIG.json OUT N [sbatch options...]" >&2
	exit 2
fi
config=$1 out=$2 n=$3
shift 3
case $n in
'' | *[!0-9]* | 0) echo "$0: N must be a positive number, got '$n'" >&2; exit 2 ;;
esac
export SYNDISCO_SLURM_DIR
SYNDISCO_SLURM_DIR=$(cd "$(dirname "$0")" && pwd)
export SYNDISCO_SBATCH_ARGS="$*"
jid=$(sbatch --parsable --array=0-$((n - 1)) "$@" "$SYNDISCO_SLURM_DIR/run.sbatch" \
	"$config" "$out")
jid=${jid%%;*}
cid=$(sbatch --parsable --dependency=afterany:"$jid" "$@" \
	"$SYNDISCO_SLURM_DIR/check.sbatch" "$config" "$out" "$n")
cid=${cid%%;*}
echo "submitted job array $jid ($n shards of $config into $out), check job $cid"
