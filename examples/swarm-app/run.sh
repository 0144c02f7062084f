#!/usr/bin/env bash
# Docker Deep Dive, chapter 14: the counter app as a stack on a one-node swarm: deployed,
# updated declaratively (image and replicas in the file), the book's volume gotcha, removed.
cd "$(dirname "$0")"
. ../lib.sh
need python:3.11-slim redis:latest
export PORT=${PORT:-$(free_port)}
work=$(mktemp -d)
made_swarm=
label=label=com.docker.stack.namespace=ddd
cleanup() {
    $DOCKER stack rm ddd >/dev/null 2>&1 || true
    for _ in $(seq 150); do
        [ -z "$($DOCKER ps -aq --filter "$label")" ] && break
        sleep 0.2
    done
    $DOCKER volume rm ddd_counter-vol >/dev/null 2>&1 || true
    if [ -n "$made_swarm" ]; then $DOCKER swarm leave --force >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# wait_for WHAT COMMAND...: until COMMAND succeeds (two minutes at most)
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 600; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    $DOCKER stack ps ddd >&2
    fail "never: $what"
}
# replicas SERVICE N: the service runs N tasks
replicas() { [ "$($DOCKER stack services ddd --filter "name=ddd_$1" --format '{{.Replicas}}')" = "$2/$2" ]; }
# updated SERVICE: the service's rolling update has completed
updated() {
    [ "$($DOCKER service inspect "ddd_$1" | python3 -c \
        'import json, sys; print((json.load(sys.stdin)[0].get("UpdateStatus") or {}).get("State", ""))')" = completed ]
}

# page_says TEXT: until the page (through the ingress port) contains TEXT
page_says() {
    local i page
    for ((i = 0; i < 150; i++)); do
        page=$(fetch "http://127.0.0.1:$PORT/" 5 2>/dev/null || true)
        grep -q "$1" <<<"$page" && return 0
        sleep 0.2
    done
    fail "the page never said '$1': $page"
}

say "the images (stacks do not build): swarm-app:v1 and swarm-app:v2"
$DOCKER build -q -t swarm-app:v1 -f Dockerfile ..
$DOCKER build -q -t swarm-app:v2 --build-arg VERSION=v2 -f Dockerfile ..

if [ "$($DOCKER info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    say "a one-node swarm on loopback ports of its own"
    $DOCKER swarm init --listen-addr "127.0.0.1:$(free_port)" --advertise-addr 127.0.0.1 \
        --data-path-port $((20000 + RANDOM % 29000))  # not 4789: another daemon's VXLAN may hold it
    made_swarm=1
fi

say "docker stack deploy -c compose.yaml ddd (the book's file, port $PORT)"
cp compose.yaml "$work/compose.yaml"
$DOCKER stack deploy -c "$work/compose.yaml" ddd
wait_for "4 web-fe tasks" replicas web-fe 4
wait_for "1 redis task" replicas redis 1
$DOCKER stack ls
$DOCKER stack services ddd
page_says "visited 1 times"
second=$(fetch "http://127.0.0.1:$PORT/")
echo "$second"
grep -q "counter app v1" <<<"$second" || fail "v1 expected: $second"
grep -q "visited 2 times" <<<"$second" || fail "second visit: $second"

say "declaratively: swarm-app:v2 and 6 replicas in the file, deployed again"
sed -i -e 's/swarm-app:v1/swarm-app:v2/' -e 's/replicas: 4/replicas: 6/' "$work/compose.yaml"
$DOCKER stack deploy -c "$work/compose.yaml" ddd
wait_for "web-fe updated" updated web-fe
wait_for "6 web-fe tasks" replicas web-fe 6
images=$($DOCKER stack ps ddd --filter desired-state=running --filter name=ddd_web-fe --format '{{.Image}}' | sort -u)
[ "$images" = swarm-app:v2 ] || fail "web-fe tasks run $images"
$DOCKER stack ps ddd
say "the book's gotcha: the volume still holds v1's app, so v2's tasks show v1"
page_says "counter app v1"

say "without the volume in the file, deployed again: v2's own files"
sed -i -e '/^volumes:/,/^  counter-vol:/d' -e '/^    volumes:/,/target: \/app/d' "$work/compose.yaml"
$DOCKER stack deploy -c "$work/compose.yaml" ddd
wait_for "web-fe updated" updated web-fe
for _ in 1 2 3 4 5 6; do
    page=$(fetch "http://127.0.0.1:$PORT/")
    grep -q "counter app v2" <<<"$page" || fail "v2 expected from every task: $page"
done
echo "$page"

say "docker stack rm ddd: services and network go, the volume stays (as the book says)"
$DOCKER stack rm ddd
for ((i = 0; i < 300; i++)); do
    [ -z "$($DOCKER ps -aq --filter "$label")" ] && break
    sleep 0.2
done
[ -z "$($DOCKER ps -aq --filter "$label")" ] || fail "containers left: $($DOCKER ps -a --filter "$label")"
[ -z "$($DOCKER network ls -q --filter "$label")" ] || fail "networks left"
[ -z "$($DOCKER service ls -q --filter "$label")" ] || fail "services left"
$DOCKER volume ls --filter name=ddd_counter-vol
$DOCKER volume rm ddd_counter-vol
echo "swarm-app: OK"
