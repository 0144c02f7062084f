#!/bin/sh
# The link aliases `insideweb` and `insidemailer` give the addresses, as environment variables.
web="http://$INSIDEWEB_PORT_80_TCP_ADDR:$INSIDEWEB_PORT_80_TCP_PORT/"
while true; do
    if timeout 5 wget -q -O /dev/null "$web"; then
        echo "System up."
    else
        echo "The service is down!" | nc -w 1 "$INSIDEMAILER_PORT_33333_TCP_ADDR" "$INSIDEMAILER_PORT_33333_TCP_PORT"
    fi
    sleep 1
done
