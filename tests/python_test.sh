#!/bin/sh
# The Python package's tests (tests/python) against this build's
# libsyndisco.so, with Debian's pytest on the system Python; skipped
# (77) only when pytest is not installed.
#   python_test.sh PYTHON [pytest args...]
py=$1
shift
if ! "$py" -c "import pytest" 2>/dev/null; then
	echo "pytest is not installed for $py (apt-get install python3-pytest): skipped"
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
exec "$py" -m pytest -q -p no:cacheprovider "$here/python" "$@"
