# ballast in a container, from the Debian package. Build the package first, then the image:
#
#   make deb && docker build -t ballast .
#   docker run -d -p 80:80 -v /srv/ballast.yaml:/etc/ballast/ballast.yaml:ro ballast
#
# Reload: `docker kill -s HUP CONTAINER` (check the file first: `ballast --check`); stop:
# `docker stop -t 45 CONTAINER` (SIGTERM, then requests in flight get up to drain_timeout).
# More in docs/operations.md ("The container image").
FROM debian:bookworm-slim

# The package from build/deb (make deb); apt-get resolves its libraries from Debian.
# Port 80 without root: the one capability, on the executable (the unit grants it under
# systemd; Docker 20.10+ also lets any user bind low ports in a container's own network).
COPY build/deb/ballast_*.deb /tmp/
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        /tmp/ballast_*.deb libcap2-bin \
    && setcap cap_net_bind_service=+ep /usr/sbin/ballast \
    && apt-get purge -y libcap2-bin \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* /tmp/ballast_*.deb

# The package made this user (no home, no shell).
USER ballast:ballast
EXPOSE 80
# SIGTERM drains: stop accepting, finish requests in flight (drain_timeout), exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/ballast", "--config", "/etc/ballast/ballast.yaml"]
