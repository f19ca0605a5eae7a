# The batpass node image (deploy/README.md). Built by `make image`, which builds the
# wheelhouse on the host first (pip wheel of batpass and its pinned dependencies), so nothing is
# fetched while the image builds. The base is a build argument; its default is built locally
# from Debian's packages by scripts/build-base-image.sh (no image is pulled from a registry).
ARG BASE_IMAGE=batpass-base:bookworm

# -- stage 1: a virtual environment installed from the wheelhouse only (--no-index) -------------
FROM ${BASE_IMAGE} AS install
# make image keeps this stage tagged batpass-build:install (the next build's layer cache) and
# removes the ones it replaced by this label
LABEL org.batpass.stage=install
# the pinned dependencies first: a change to batpass alone reuses this layer
COPY build/wheelhouse/deps /wheelhouse/deps
RUN python3 -m venv /opt/batpass \
 && /opt/batpass/bin/pip install --quiet --no-index --no-cache-dir --disable-pip-version-check \
      --no-deps /wheelhouse/deps/*.whl
COPY build/wheelhouse/own /wheelhouse/own
RUN /opt/batpass/bin/pip install --quiet --no-index --no-cache-dir --disable-pip-version-check \
      --find-links /wheelhouse/deps /wheelhouse/own/batpass-*.whl \
 && /opt/batpass/bin/pip uninstall --quiet --yes pip \
 && /opt/batpass/bin/python -m compileall -q /opt/batpass/lib >/dev/null

# -- stage 2: the runtime: the base, the environment, a non-root user and one volume ------------
FROM ${BASE_IMAGE}
LABEL org.batpass.stage=node
# keys, TLS material and the SQLite file of each node live in /data/<node>/ (BATPASS_HOME)
RUN groupadd --system --gid 10001 batpass \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin batpass \
 && mkdir -p /data && chown batpass:batpass /data && chmod 0700 /data
COPY --from=install /opt/batpass /opt/batpass
ENV PATH=/opt/batpass/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    BATPASS_HOME=/data \
    BATPASS_ENV=production \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER batpass
WORKDIR /data
VOLUME ["/data"]
# `batpass serve` takes the node from BATPASS_NODE; every other setting is a BATPASS_* variable
# or a file in BATPASS_SETTINGS_DIR (mounted secrets); a missing or malformed one is named and
# the container exits 2 before it serves
ENTRYPOINT ["batpass"]
CMD ["serve"]
