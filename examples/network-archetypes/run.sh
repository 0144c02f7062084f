#!/usr/bin/env bash
# Docker in Action, chapter 5: the four network archetypes, strongest isolation first.
# Only containers and this machine's loopback are used.
cd "$(dirname "$0")"
. ../lib.sh
need busybox:latest nginx:latest
NET=archetypes-net
cleanup() {
    $DOCKER rm -f joined-server bridged-web open-server >/dev/null 2>&1 || true
    $DOCKER network rm $NET >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

say "1. closed (--network none): only a loopback interface"
out=$($DOCKER run --rm --network none busybox:latest ip -o link)
echo "$out"
[ "$(grep -c . <<<"$out")" = 1 ] && grep -q ": lo:" <<<"$out" || fail "closed container interfaces: $out"
out=$($DOCKER run --rm --network none busybox:latest ping -c 1 -W 1 10.0.0.1 2>&1 || true)
echo "$out"
grep -q "Network is unreachable" <<<"$out" || fail "a closed container reached out: $out"

say "2. bridged (the default, or a user-defined bridge): eth0, and other containers by name"
$DOCKER network create $NET
$DOCKER run -d --name bridged-web --network $NET nginx:latest
out=$($DOCKER run --rm --network $NET busybox:latest ip -o -4 addr show eth0)
echo "$out"
grep -q "inet " <<<"$out" || fail "no address on eth0: $out"
page=$($DOCKER run --rm --network $NET busybox:latest sh -c \
    'for i in $(seq 50); do wget -q -O - http://bridged-web/ && exit 0; sleep 0.2; done; exit 1')
grep -q "Welcome to nginx!" <<<"$page" || fail "bridged-web by name: $page"
echo "bridged-web answered by name on $NET"

say "3. joined (--network container:NAME): one network stack, loopback shared"
$DOCKER run -d --name joined-server --network none busybox:latest \
    sh -c 'while true; do echo "hello over the shared loopback" | nc -l -p 3333; done'
out=$($DOCKER run --rm --network container:joined-server busybox:latest sh -c \
    'for i in $(seq 50); do nc -w 1 127.0.0.1 3333 </dev/null && exit 0; sleep 0.2; done; exit 1')
echo "$out"
[ "$out" = "hello over the shared loopback" ] || fail "joined container: $out"
$DOCKER run --rm --network container:joined-server busybox:latest netstat -ltn | grep ":3333"

say "4. open (--network host): the host's interfaces; a server on the host's 127.0.0.1"
port=${PORT:-$(free_port)}
uplink=$(ip route show default | awk '{print $5; exit}')
uplink=${uplink:-lo}
out=$($DOCKER run --rm --network host busybox:latest ip -o link)
grep -qE ": $uplink[:@]" <<<"$out" || fail "the open container does not see the host's $uplink: $out"
echo "the open container sees the host's interfaces, $uplink among them"
$DOCKER run -d --name open-server --network host busybox:latest \
    sh -c "mkdir -p /www && echo 'open archetype' > /www/index.html && exec httpd -f -p 127.0.0.1:$port -h /www"
page=$(fetch "http://127.0.0.1:$port/")
echo "$page"
[ "$page" = "open archetype" ] || fail "open container on the host's loopback: $page"
echo "network-archetypes: OK"
