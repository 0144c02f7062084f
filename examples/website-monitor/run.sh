#!/usr/bin/env bash
# Docker in Action, chapter 2: a web server watched by an agent that mails when it goes down.
cd "$(dirname "$0")"
. ../lib.sh
need nginx:latest busybox:latest
cleanup() { $DOCKER rm -f web mailer agent >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

say "build the mailer and the agent (FROM busybox)"
$DOCKER build -q -t dia-ch2/mailer mailer
$DOCKER build -q -t dia-ch2/agent agent

say "docker run --detach --name web nginx:latest"
$DOCKER run --detach --name web nginx:latest
say "docker run --detach --name mailer dia-ch2/mailer"
$DOCKER run --detach --name mailer dia-ch2/mailer
say "docker run --detach --name agent --link web:insideweb --link mailer:insidemailer dia-ch2/agent"
$DOCKER run --detach --name agent --link web:insideweb --link mailer:insidemailer dia-ch2/agent
$DOCKER ps

say "the agent sees the web server"
wait_for_log mailer "CH2 Example Mailer has started."
wait_for_log agent "System up."
wait_for_log web '"GET / HTTP/1.1" 200'
$DOCKER logs agent | tail -n 3

say "docker stop web: the agent mails"
$DOCKER stop web
wait_for_log mailer "Sending email: To: admin@work Message: The service is down!"
$DOCKER logs mailer | tail -n 2

say "restart web: the system is up again"
$DOCKER start web
count=$($DOCKER logs agent 2>&1 | grep -c "System up.")
for ((i = 0; i < 50; i++)); do
    [ "$($DOCKER logs agent 2>&1 | grep -c "System up.")" -gt "$count" ] && break
    sleep 0.2
done
[ "$($DOCKER logs agent 2>&1 | grep -c "System up.")" -gt "$count" ] || fail "the agent did not see web come back"
echo "website-monitor: OK"
