# Shared helpers for the example scripts (sourced). They talk to the daemon the CLI is pointed at:
# set DOCKER_HOST to use another one, DOCKER=docker to run them with the docker CLI instead.
# Nothing here reaches further than this machine: containers and 127.0.0.1 only.
set -euo pipefail
DOCKER=${DOCKER:-dockyard}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# A free TCP port on 127.0.0.1 (PORT from the environment wins).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fetch URL [TRIES]: the body of an HTTP GET on this machine, retried while the server starts.
fetch() {
    python3 - "$1" "${2:-50}" <<'PY'
import sys, time, urllib.request
url, tries = sys.argv[1], int(sys.argv[2])
for attempt in range(tries):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            sys.stdout.write(response.read().decode())
            sys.exit(0)
    except OSError as exc:
        error = exc
        time.sleep(0.2)
sys.exit(f"GET {url}: {error}")
PY
}

# wait_for_log CONTAINER TEXT [SECONDS]: until the container's logs contain TEXT.
wait_for_log() {
    local container=$1 text=$2 seconds=${3:-30} i
    for ((i = 0; i < seconds * 5; i++)); do
        if $DOCKER logs "$container" 2>&1 | grep -qF -- "$text"; then
            return 0
        fi
        sleep 0.2
    done
    echo "--- logs of $container:" >&2
    $DOCKER logs "$container" >&2 || true
    fail "$container never logged: $text"
}

# need IMAGE...: stop early, with the command that fixes it, when a catalog image is missing.
need() {
    local image
    for image in "$@"; do
        $DOCKER image inspect "$image" >/dev/null 2>&1 ||
            fail "image $image is missing: build it with \`dockyard catalog build $image\`"
    done
}
