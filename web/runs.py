"""``/-/runs``: the enrichment runs — job, model and weights checksum, parameters, times, how many
suggestions wait, were accepted or rejected — and the retracted ones the run log remembers.
HTML for browsers, JSON for ``Accept: application/json`` or ``?format=json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from flask import current_app, jsonify, render_template, request


def runs_page():
    from enrichment.runs import list_runs
    runs = list_runs(current_app.extensions["mouseion.store"])
    wants_json = request.args.get("format") == "json" or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json")
    if wants_json:
        return jsonify(runs=[asdict(r) for r in runs])
    rows = []
    for r in runs:
        try:
            parameters = json.loads(r.parameters) if r.parameters else {}
        except ValueError:
            parameters = {"raw": r.parameters}
        rows.append({"run": r, "parameters": parameters})
    return render_template("runs.html", rows=rows)
