#!/bin/sh
# The official redis image's entry point: options alone mean redis-server; as root, own /data and
# drop to the redis user. Debian's redis-server keeps protected mode on by default (the official
# image compiles it off), so it is turned off here unless the command line or a config file says.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = 'redis-server' ] && [ "${2%.conf}" = "${2:-}" ]; then
    case " $* " in
        *" --protected-mode "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
fi
um="$(umask)"
if [ "$um" = '0022' ]; then
    umask 0077
fi
exec "$@"
