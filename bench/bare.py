"""The baseline: a bare Flask view returning constant bytes, served like deployserver.

``BENCH_BODY_FILE`` names the file with the bytes (the same body the full poll returns).
"""

import os
from pathlib import Path

from flask import Flask, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()

app = Flask(__name__)


@app.get("/api/v1/operator/channel")
def channel() -> Response:
    return Response(BODY, mimetype="application/json")
