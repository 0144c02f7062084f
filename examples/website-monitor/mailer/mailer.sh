#!/bin/sh
echo "CH2 Example Mailer has started."
while true; do
    nc -l -p 33333 | while read -r message; do
        echo "Sending email: To: admin@work Message: $message"
    done
done
