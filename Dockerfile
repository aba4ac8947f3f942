FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DEPLOYSERVER_INSTANCE_PATH=/var/lib/deployserver
# Dependencies first, exactly as locked (hash-checked), so this layer survives code changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md wsgi.py ./
COPY deployserver ./deployserver
COPY channels ./channels
# The project itself, not editable: the migrations travel inside the installed package.
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --home /var/lib/deployserver deployserver \
    && mkdir -p /var/lib/deployserver && chown deployserver /var/lib/deployserver
USER deployserver
EXPOSE 8080
# serve migrates, seeds an empty database from channels/ (never moving a head a restart
# finds), then serves; `deployserver channels sync channels` applies the files explicitly.
CMD ["deployserver", "serve", "--seed", "channels", "--host", "0.0.0.0", "--port", "8080", "--workers", "4"]
