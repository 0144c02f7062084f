#!/usr/bin/env bash
# Docker Deep Dive, chapter 9: the counter app (web front end + redis) with plain run commands,
# what `docker compose up` does for the book's compose.yaml.
cd "$(dirname "$0")"
. ../lib.sh
need python:3.11-slim redis:latest
port=${PORT:-$(free_port)}
cleanup() {
    $DOCKER rm -f counter-web-fe counter-redis >/dev/null 2>&1 || true
    $DOCKER network rm counter-net >/dev/null 2>&1 || true
    $DOCKER volume rm counter-vol >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

say "the network, the volume and the image (compose: networks:, volumes:, build:)"
$DOCKER network create counter-net
$DOCKER volume create counter-vol
$DOCKER build -q -t counter-app:latest app

say "redis, reachable as 'redis' on counter-net"
$DOCKER run -d --name counter-redis --network counter-net --network-alias redis redis:latest
wait_for_log counter-redis "Ready to accept connections"

say "the web front end, published on 127.0.0.1:$port, app code in the counter-vol volume"
$DOCKER run -d --name counter-web-fe --network counter-net -p "127.0.0.1:$port:8080" \
    --mount type=volume,source=counter-vol,target=/app counter-app:latest
$DOCKER ps --filter name=counter-

first=$(fetch "http://127.0.0.1:$port/")
second=$(fetch "http://127.0.0.1:$port/")
echo "$second"
grep -q "visited 1 times" <<<"$first" || fail "first visit: $first"
grep -q "visited 2 times" <<<"$second" || fail "second visit: $second"

say "the counter lives in redis: redis-cli from another container"
count=$($DOCKER run --rm --network counter-net redis:latest redis-cli -h redis get hits)
echo "hits = $count"
[ "$count" = 2 ] || fail "redis says hits = $count"

say "the volume holds the app (an empty named volume is filled from the image)"
$DOCKER run --rm -v counter-vol:/app busybox:latest ls /app
echo "counter-app: OK"
