"""Per-dataset N-Quads dumps under ``/dumps/``: ``/dumps/`` lists them, ``/dumps/{dataset}.nq.gz``
streams one, gzipped, record by record (flat memory whatever the dataset's size). Each record's graph
keeps its name (``{base}graph/record/{key}``); accepted machine suggestions come in their run graph."""

from __future__ import annotations

import zlib

import pyoxigraph as ox
from flask import Response, current_app, jsonify, url_for

from kg import harvest
from kg.edm_out import SUGGESTION_POLICIES


def _store():
    return current_app.extensions["mouseion.store"]


def dumps_index():
    store = _store()
    names = harvest.datasets(store)
    return jsonify(dumps=[{"dataset": name, "url": url_for("dump", name=f"{name}.nq.gz", _external=False),
                           "format": "application/n-quads", "encoding": "gzip"} for name in names])


def dataset_dump(name: str):
    store = _store()
    dataset = name[:-len(".nq.gz")] if name.endswith(".nq.gz") else None
    if dataset is None or dataset not in harvest.datasets(store):
        return Response(f"no dump {name}: /dumps/ lists them (DATASET.nq.gz)\n", status=404, mimetype="text/plain")
    policy = SUGGESTION_POLICIES[current_app.extensions["mouseion.settings"].oai_suggestions]
    log = harvest.ChangeLog(store)

    def stream():
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)   # wbits 31: the gzip container
        for quads in harvest.dataset_quads(store, log, dataset, suggestions=policy):
            chunk = packer.compress(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
            if chunk:
                yield chunk
        yield packer.flush()

    return Response(stream(), mimetype="application/gzip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


METHODS = ["GET"]
