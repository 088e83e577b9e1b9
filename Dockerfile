# thoonk-xmpp in a container: non-root, settings and secret mounted at run time.
#
#   docker build -t thoonk-xmpp .
#   docker run --rm \
#       -v "$PWD/thoonk_xmpp.toml:/etc/thoonk-xmpp/thoonk_xmpp.toml:ro" \
#       -v "$PWD/component-secret:/run/secrets/component_secret:ro" \
#       thoonk-xmpp
#
# with `secret_file = "/run/secrets/component_secret"` under [component] (or pass
# THOONK_XMPP_SECRET in the environment). compose.yaml runs it with Redis and Prosody.

# --- build the wheel --------------------------------------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY thoonk_xmpp ./thoonk_xmpp
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist

# --- the image ----------------------------------------------------------------------------
FROM python:3.11-slim
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl && rm -rf /dist \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin thoonk-xmpp \
    && mkdir -p /etc/thoonk-xmpp
USER thoonk-xmpp
ENV PYTHONUNBUFFERED=1
# SIGTERM is a clean stop (`docker stop`).
STOPSIGNAL SIGTERM
CMD ["thoonk-xmpp", "run", "--config", "/etc/thoonk-xmpp/thoonk_xmpp.toml"]
