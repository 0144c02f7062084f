#!/usr/bin/env bash
# Docker Deep Dive, chapter 8: containerise an app, run it with a published port.
cd "$(dirname "$0")"
. ../lib.sh
need python:3.11-slim
port=${PORT:-$(free_port)}
cleanup() { $DOCKER rm -f webserver >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

say "docker build -t ddd-book:ch8.1 app"
$DOCKER build -t ddd-book:ch8.1 app
$DOCKER images ddd-book
say "the image's entry point and working directory"
$DOCKER inspect --format '{{json .Config.Entrypoint}} {{.Config.WorkingDir}}' ddd-book:ch8.1
[ "$($DOCKER inspect --format '{{json .Config.Entrypoint}}' ddd-book:ch8.1)" = '["python","app.py"]' ] ||
    fail "unexpected entry point"
$DOCKER history ddd-book:ch8.1

say "docker run -d --name webserver -p 127.0.0.1:$port:8080 ddd-book:ch8.1"
$DOCKER run -d --name webserver -p "127.0.0.1:$port:8080" ddd-book:ch8.1
$DOCKER port webserver
page=$(fetch "http://127.0.0.1:$port/")
echo "$page"
grep -q "Hello from a containerised app!" <<<"$page" || fail "the page: $page"
echo "web-app: OK"
