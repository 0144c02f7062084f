"""Dockerfiles and helpers shared by the build tests (ours and the real docker CLI's)."""

from pathlib import Path

MAILER_BASE = """FROM busybox:latest
MAINTAINER Jeff Nickoloff "dia@allingeek.com"
RUN echo "example:x:2200:" >> /etc/group && echo "example:x:2200:2200::/app:/bin/sh" >> /etc/passwd && mkdir /var/log
ENV APPROOT="/app" APP="mailer.sh" VERSION="0.6"
LABEL base.name="Mailer Archetype" base.version="${VERSION}"
WORKDIR $APPROOT
ADD . $APPROOT
ENTRYPOINT ["/app/mailer.sh"]
EXPOSE 33333
# USER example:example
"""
MAILER_LOGGING = """FROM dia/mailer-base:0.6
COPY ["./log-impl", "${APPROOT}"]
RUN chmod a+x ${APPROOT}/${APP} && chown example:example /var/log
USER example:example
VOLUME ["/var/log"]
CMD ["/var/log/mailer.log"]
"""
MAILER_SCRIPT = """#!/bin/sh
printf "Logging Mailer has started.\\n"
printf "[Message]: %s\\n" "hello" > $1
cat $1
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


MULTI_STAGE = """ARG FLAVOR=prod
FROM busybox AS base
RUN mkdir -p /src && echo 'echo client' > /src/client.sh && echo 'echo server "$@"' > /src/server.sh

FROM base AS build-client
RUN cp /src/client.sh /bin/client && chmod +x /bin/client

FROM base AS build-server
RUN cp /src/server.sh /bin/server && chmod +x /bin/server

FROM busybox AS never-needed
RUN exit 1

FROM scratch AS prod-client
COPY --from=build-client /bin/client /bin/
COPY --from=busybox /bin/busybox /bin/sh
ENTRYPOINT ["/bin/sh", "/bin/client"]

FROM scratch AS prod-server
COPY --from=build-server /bin/server /bin/
COPY --from=0 /bin/busybox /bin/sh
ENTRYPOINT ["/bin/sh", "/bin/server"]
"""


def steps_from_cache(text: str) -> list[int]:
    out = []
    step = 0
    for line in text.splitlines():
        if line.startswith("Step "):
            step = int(line.split()[1].split("/")[0])
        elif line == " ---> Using cache":
            out.append(step)
    return out
