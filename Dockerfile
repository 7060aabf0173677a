# edgeloop: the paper engine on the built-in simulator. Arguments are Hydra overrides:
#   docker run edgeloop db=postgres run.duration=2h
# SIGTERM (docker stop) ends the run between two ticks and prints the ledger.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY engine ./engine
COPY settings_service ./settings_service
COPY conf ./conf
COPY migrations ./migrations
COPY ui ./ui
COPY .streamlit ./.streamlit
RUN pip install --no-cache-dir -c constraints.txt -e . \
    && useradd --create-home edgeloop && mkdir -p /app/var && chown edgeloop /app/var
USER edgeloop
# Set EDGELOOP_DB_URL (and db=postgres) to use PostgreSQL; the default is /app/var/edgeloop.db.
# The dashboard listens on 127.0.0.1 (.streamlit/config.toml), which a container's port mapping
# cannot reach; to publish it, say so and map it to the host's loopback only:
#   docker run --entrypoint streamlit -p 127.0.0.1:8501:8501 edgeloop run ui/app.py --server.address 0.0.0.0
ENTRYPOINT ["edgeloop"]
