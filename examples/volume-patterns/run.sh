#!/usr/bin/env bash
# Docker in Action, chapter 4: volume containers and data-packed volume containers.
cd "$(dirname "$0")"
. ../lib.sh
need busybox:latest nginx:latest
containers="vc_data writer reader_a aggregator dpvc packed-web"
cleanup() { $DOCKER rm -f -v $containers >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

say "a volume container: holds the volume, never needs to run"
$DOCKER create --name vc_data -v /data busybox:latest true
say "a writer uses its volume with --volumes-from"
$DOCKER run --rm --volumes-from vc_data busybox:latest sh -c 'echo "written by the writer" > /data/log.txt'
say "another container reads what the writer wrote"
out=$($DOCKER run --rm --volumes-from vc_data busybox:latest cat /data/log.txt)
echo "$out"
[ "$out" = "written by the writer" ] || fail "the reader saw: $out"

say "--volumes-from is transitive: aggregator gets vc_data's volume, and so does its reader"
$DOCKER create --name aggregator --volumes-from vc_data -v /more busybox:latest true
out=$($DOCKER run --rm --volumes-from aggregator busybox:latest sh -c 'cat /data/log.txt; test -d /more && echo more')
echo "$out"
[ "$out" = "written by the writer
more" ] || fail "through the aggregator: $out"

say "a data-packed volume container: the image's data copied into its volume at creation"
$DOCKER build -q -t dia-ch4/packed packed
$DOCKER run --name dpvc -v /config dia-ch4/packed sh -c 'cp /packed/* /config/'
$DOCKER run --rm --volumes-from dpvc busybox:latest ls /config
out=$($DOCKER run --rm --volumes-from dpvc busybox:latest cat /config/packedData)
echo "$out"
[ "$out" = "This is packed data, copied from the image into a volume." ] || fail "packed data: $out"

say "the packed volume serves a web site: nginx reads it through --volumes-from"
$DOCKER run --rm --volumes-from dpvc busybox:latest sh -c 'mkdir -p /config/site && cp /config/index.html /config/site/'
$DOCKER run -d --name packed-web --volumes-from dpvc nginx:latest \
    sh -c 'rm -rf /usr/share/nginx/html && ln -s /config/site /usr/share/nginx/html && exec nginx -g "daemon off;"'
page=$($DOCKER run --rm --link packed-web:web busybox:latest sh -c \
    'for i in $(seq 50); do wget -q -O - http://web/ && exit 0; sleep 0.2; done; exit 1')
echo "$page"
grep -q "Served from a data-packed volume" <<<"$page" || fail "nginx served: $page"

say "docker rm -v dpvc removes the container and its volume"
volume=$($DOCKER inspect --format '{{range .Mounts}}{{.Name}}{{end}}' dpvc)
$DOCKER rm -f packed-web >/dev/null
$DOCKER rm -v dpvc
if $DOCKER volume inspect "$volume" >/dev/null 2>&1; then fail "volume $volume is still there"; fi
echo "volume-patterns: OK"
